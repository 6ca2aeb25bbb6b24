// Package pages holds the HTML templates and static assets of the default
// UI (login, consent, logout, errors) and the one HTML error mapping: a
// failed step re-renders its page with a human message, and the catalog code
// in a data-error-code attribute for tests and support. Pages carry no
// script; forms post with a CSRF token and get a 303 back.
package pages
