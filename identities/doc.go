// Package identities will own external "login with" providers (OIDC/OAuth2
// upstreams through golang.org/x/oauth2 and go-oidc) and the identities
// table: one account, many (upstream issuer, subject) identities, linking and
// unlinking. It is empty until its issue; the schema already keeps identities
// apart from credentials.
package identities
