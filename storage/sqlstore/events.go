package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gatehouse/gatehouse/storage"
)

// AppendEvent writes an event to the ctx tenant's outbox, in the ctx
// transaction when there is one (so it commits or rolls back with the change
// it records). DeliveredAt is normally nil; when set (imports, tests) it is
// stored.
func (s *Store) AppendEvent(ctx context.Context, e storage.Event) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	return s.execDeferred(ctx,
		`INSERT INTO events (id, tenant_id, type, subject, data, created_at, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, tid, e.Type, e.Subject, string(data), ts(e.CreatedAt), optTS(e.DeliveredAt))
}

// ListEvents returns the ctx tenant's events, newest first.
func (s *Store) ListEvents(ctx context.Context, f storage.EventFilter) ([]storage.Event, error) {
	tid, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString(`SELECT id, tenant_id, type, subject, data, created_at, delivered_at FROM events WHERE tenant_id = $1`)
	args := []any{tid}
	if f.Type != "" {
		args = append(args, f.Type)
		sb.WriteString(` AND type = $2`)
	}
	if f.Subject != "" {
		args = append(args, f.Subject)
		sb.WriteString(` AND subject = $` + itoa(len(args)))
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	args = append(args, limit)
	sb.WriteString(` ORDER BY created_at DESC, id DESC LIMIT $` + itoa(len(args)))
	var out []storage.Event
	err = s.query(ctx, func(r Rows) error {
		var e storage.Event
		var data []byte
		if err := r.Scan(&e.ID, &e.TenantID, &e.Type, &e.Subject, &data, &e.CreatedAt, &e.DeliveredAt); err != nil {
			return err
		}
		e.Data = json.RawMessage(data)
		out = append(out, e)
		return nil
	}, sb.String(), args...)
	return out, err
}
