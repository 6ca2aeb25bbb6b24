// Package consent owns the consent step of the sign-in path: which scopes an
// application gets, the decisions remembered per (account, client, scopes),
// first-party clients that skip the page, and revoking grants.
package consent
