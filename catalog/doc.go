// Package catalog holds the error catalog of docs/errors.md as Go values.
//
// Each code is one exported sentinel *Error; services return them (wrapped
// with a cause where useful) and callers test them with errors.Is. The HTTP
// mapping for the JSON API lives here (WriteJSON); the HTML and OAuth2
// protocol surfaces read the same values (Code, Status) in their own writers.
// The package owns no HTTP routing and no business rules.
package catalog
