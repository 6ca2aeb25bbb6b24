package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehouse/gatehouse/storage"
)

// Event types. Names are <object>.<past-tense verb>; they are part of the
// public contract of webhooks and the audit log.
const (
	UserRegistered   = "user.registered"
	UserUpdated      = "user.updated"
	LoginSucceeded   = "login.succeeded"
	LoginFailed      = "login.failed"
	LogoutSucceeded  = "logout.succeeded"
	ConsentGranted   = "consent.granted"
	ConsentDenied    = "consent.denied"
	ConsentRevoked   = "consent.revoked"
	TokenIssued      = "token.issued"
	TokenRevoked     = "token.revoked"
	TokenReuse       = "token.reuse_detected"
	ClientCreated    = "client.created"
	ClientUpdated    = "client.updated"
	ClientDeleted    = "client.deleted"
	ClientSecretRoll = "client.secret_rotated"
	KeyCreated       = "key.created"
	KeyActivated     = "key.activated"
	KeyRetired       = "key.retired"
	TenantCreated    = "tenant.created"
)

// Appender is the store method Record needs.
type Appender interface {
	AppendEvent(ctx context.Context, e storage.Event) error
}

// Record appends an event of type typ about subject, with data marshalled
// to JSON, in ctx's transaction when there is one. data must never hold
// secrets, codes or tokens.
func Record(ctx context.Context, to Appender, typ, subject string, data any) error {
	raw := json.RawMessage(`{}`)
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("event %s: %w", typ, err)
		}
		raw = b
	}
	return to.AppendEvent(ctx, storage.Event{Type: typ, Subject: subject, Data: raw})
}
