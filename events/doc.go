// Package events names the facts gatehouse records in its outbox (the
// events table) and writes them. A service records an event with the store
// of its transaction, so the event commits or rolls back with the change it
// describes. Delivery (webhooks) and audit queries come on top of the same
// table; this package owns only the vocabulary and the writing.
package events
