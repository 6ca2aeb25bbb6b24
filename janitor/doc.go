// Package janitor deletes the rows nothing will read again: expired
// authorization codes (with their PKCE and OIDC sessions), access and
// refresh tokens, client assertion ids and pending authorizations; browser
// sessions that expired or were revoked more than a retention ago; events
// delivered more than a retention ago (undelivered events are never
// deleted). Refresh tokens are kept until they expire even when used or
// revoked: reuse detection needs them.
//
// A pass runs every target of storage.PurgeTargets in turn, each in batches
// (storage.Purger.Purge: at most Batch rows per statement, each statement its
// own short transaction) with a short pause between batches, so the database
// is left to token issuance. A target is done when a batch deletes fewer
// rows than Batch. The cutoffs are taken once per pass from the injected
// clock.
//
// The janitor works across tenants: it is the one service that uses the
// store's unscoped Purger. Several replicas may run it at once; each row is
// deleted once and the others' statements find nothing.
//
// It is a package of its own rather than part of storage because it is
// policy (which rows, which retentions, how fast), logging and a schedule
// over the store's one mechanism; storage stays free of both. serve runs it
// every GATEHOUSE_JANITOR_INTERVAL; gatehouse janitor runs one pass.
package janitor
