package config

import (
	"strings"
	"testing"
)

// TestRedacted: a DSN shown in a log or banner carries no password, in its
// user info or in a password / sslpassword parameter; one that is not a
// URL is not shown at all.
func TestRedacted(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://gh:s3cret@db:5432/gh":                     "postgres://gh:xxxxx@db:5432/gh",
		"postgres://gh@db/gh?password=s3cret&sslmode=require": "postgres://gh@db/gh?password=xxxxx&sslmode=require",
		"postgres://gh@db/gh?sslpassword=s3cret":              "postgres://gh@db/gh?sslpassword=xxxxx",
		"postgres://gh@db/gh?sslmode=disable":                 "postgres://gh@db/gh?sslmode=disable",
		"sqlite:/var/lib/gatehouse/gatehouse.db":              "sqlite:/var/lib/gatehouse/gatehouse.db",
		"postgres://gh:s3cret@db:bad-port/gh":                 "(unparsable DSN)",
	} {
		got := Redacted(dsn)
		if got != want || strings.Contains(got, "s3cret") {
			t.Errorf("Redacted(%q) = %q, want %q", dsn, got, want)
		}
	}
}
