// Package provider is the OAuth 2.0 / OpenID Connect protocol core, built on
// github.com/ory/fosite: the authorization, token, introspection, revocation,
// userinfo, discovery, JWKS and logout endpoints, the signing keys and their
// rotation. It asks login and consent through small interfaces and never
// reaches into their tables.
package provider
