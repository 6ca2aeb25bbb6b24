// Package flow is the pending authorization between /oauth2/auth and the
// authorization code: an explicit state machine (login → consent → ready →
// done, or denied) stored server-side, keyed by a random id and bound to the
// browser that started it. The provider creates flows and completes them;
// the login and consent steps move them forward. Parameters are never taken
// from the browser on the way back: everything the provider needs to issue
// the code is in the stored flow.
package flow
