// Package login owns accounts and authentication: passwords (argon2id),
// account status, browser sign-in sessions and, later, sign-up,
// verification, reset, throttling and second factors. It serves the login
// step of the sign-in path for the provider and knows nothing of OAuth2.
package login
