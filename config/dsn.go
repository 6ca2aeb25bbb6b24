package config

import (
	"fmt"
	"net/url"
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
	scheme, _, ok := strings.Cut(s, ":")
	if !ok {
		scheme = s
	}
	return DSN{}, fmt.Errorf("unknown scheme %q (want postgres://, postgresql://, sqlite:PATH or memory)", scheme)
}

// Redacted returns the DSN with any password replaced, for logs and banners.
func Redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
