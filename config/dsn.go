package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// DSN is a parsed GATEHOUSE_DSN.
type DSN struct {
	// Backend is "postgres" or "sqlite".
	Backend string
	// URL is the PostgreSQL connection URL (Backend "postgres").
	URL string
	// Path is the SQLite file (Backend "sqlite", not Memory).
	Path string
	// Memory asks for a throwaway SQLite database, removed at shutdown.
	Memory bool
}

// ParseDSN accepts postgres://…, postgresql://…, sqlite:PATH and memory.
func ParseDSN(s string) (DSN, error) {
	switch {
	case s == "memory":
		return DSN{Backend: "sqlite", Memory: true}, nil
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//")
		if path == "" {
			return DSN{}, fmt.Errorf("sqlite: needs a file path, e.g. sqlite:/var/lib/gatehouse/gatehouse.db")
		}
		if strings.ContainsAny(path, "?#") {
			return DSN{}, fmt.Errorf("sqlite path must not contain ? or #")
		}
		return DSN{Backend: "sqlite", Path: path}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return DSN{}, fmt.Errorf("not a valid PostgreSQL URL (postgres://user@host:5432/db)")
		}
		return DSN{Backend: "postgres", URL: s}, nil
	}
	// The scheme only, and only when it looks like one: a key=value DSN
	// ("host=db password=…") has none, and must not be echoed.
	scheme, _, _ := strings.Cut(s, ":")
	if !schemePattern.MatchString(scheme) {
		return DSN{}, fmt.Errorf("unknown scheme (the value is not shown: it may hold a password; want postgres://, postgresql://, sqlite:PATH or memory)")
	}
	return DSN{}, fmt.Errorf("unknown scheme %q (want postgres://, postgresql://, sqlite:PATH or memory)", scheme)
}

// schemePattern is a URL scheme (RFC 3986 §3.1), short.
var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,31}$`)

// Redacted returns the DSN with any password replaced, for logs and
// banners: in the user info and in a password (or sslpassword) query
// parameter. A DSN that is not a URL is not shown at all.
func Redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable DSN)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
