package tenant

import (
	"context"
	"regexp"
)

// Default is the id of the tenant that the root path serves. It always
// exists (the first migration creates it) and cannot be disabled.
const Default = "default"

type ctxKey struct{}

// With returns a copy of ctx that carries the tenant id. Every store method
// scopes its queries by the tenant found here.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the tenant id carried by ctx, and false when there is none.
// Stores fail closed on false: no query runs unscoped.
func From(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(ctxKey{}).(string)
	return id, ok && id != ""
}

var idPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidID reports whether id can name a tenant: 1 to 63 lower-case letters,
// digits and inner hyphens, so it is safe in a URL path segment (/t/{id}/).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// PathPrefix is the URL path prefix under which a tenant is served: "" for
// the default tenant, "/t/{id}" for the others.
func PathPrefix(id string) string {
	if id == "" || id == Default {
		return ""
	}
	return "/t/" + id
}

// Issuer returns the issuer URL of a tenant given the configured base
// issuer (the default tenant's).
func Issuer(base, id string) string { return base + PathPrefix(id) }
