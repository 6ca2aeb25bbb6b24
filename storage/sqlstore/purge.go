package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// purgeSpec is what a purge target deletes (from target.Table()): the
// table's primary key and the indexed time column compared with the cutoff.
type purgeSpec struct {
	table, key, column string // table: target.Table(), filled in by init
}

// purgeSpecs is the whitelist of purge targets. Every column here has an
// index whose range scan finds the oldest rows first (00002: *_expires;
// 00003: login_sessions_revoked and events_delivered, partial indexes on
// the NOT NULL rows).
var purgeSpecs = map[storage.PurgeTarget]purgeSpec{
	storage.PurgeCodes:                {key: "signature", column: "expires_at"},
	storage.PurgeAccessTokens:         {key: "signature", column: "expires_at"},
	storage.PurgeRefreshTokens:        {key: "signature", column: "expires_at"},
	storage.PurgeJTIs:                 {key: "tenant_id, jti_hash", column: "expires_at"},
	storage.PurgeFlows:                {key: "tenant_id, id", column: "expires_at"},
	storage.PurgeLoginSessions:        {key: "tenant_id, id", column: "expires_at"},
	storage.PurgeRevokedLoginSessions: {key: "tenant_id, id", column: "revoked_at"},
	storage.PurgeDeliveredEvents:      {key: "id", column: "delivered_at"},
}

func init() {
	for target, p := range purgeSpecs {
		p.table = target.Table()
		purgeSpecs[target] = p
	}
}

// purgeSQL is one batch of p: the subquery takes the keys of at most batch
// rows whose column is before $1, oldest first (a range scan of the
// column's index), and the DELETE removes those rows by primary key (row
// values, (a, b) IN (SELECT a, b …), for composite keys). The text is the
// same on both backends: SQLite is built here without
// SQLITE_ENABLE_UPDATE_DELETE_LIMIT, so there is no DELETE … LIMIT.
//
// The batch is a literal (a checked int, never text from outside), so that
// PostgreSQL's generic plan of the cached prepared statement knows the
// subquery yields at most batch rows and probes the primary key for them,
// as its custom plans do, instead of estimating a third of the table.
//
// The outer "(column < $1) IS TRUE" re-checks the cutoff on the row being
// deleted. On PostgreSQL a row changed by a concurrent transaction after the
// subquery's snapshot (a client assertion id recorded again with a new
// expiry by UseJTI) is re-evaluated against it and kept. It is written with
// IS TRUE so that neither planner takes it for an index condition: a range
// scan of every expired row on the outer side would cost as much as the
// whole backlog on every batch. NULL columns never compare, so undelivered
// events and sessions never revoked are not matched by their targets.
func purgeSQL(p purgeSpec, batch int) string {
	key := p.key
	if strings.Contains(key, ",") {
		key = "(" + key + ")" // a row value
	}
	return `DELETE FROM ` + p.table + ` WHERE ` + key + ` IN (SELECT ` + p.key + ` FROM ` + p.table +
		` WHERE ` + p.column + ` < $1 ORDER BY ` + p.column + ` LIMIT ` + strconv.Itoa(batch) + `)` +
		` AND (` + p.column + ` < $1) IS TRUE`
}

// PurgeStatement returns the SQL of one batch of target (for EXPLAIN in
// tests and reports); ok is false for an unknown target.
func PurgeStatement(target storage.PurgeTarget, batch int) (string, bool) {
	p, ok := purgeSpecs[target]
	if !ok {
		return "", false
	}
	return purgeSQL(p, batch), true
}

// Purge deletes at most batch rows of target older than before, across every
// tenant, in one autocommitted statement on the pool: it is never part of
// the ctx transaction (one there is refused), so it holds its locks only for
// the statement. A deadlock or serialization failure (two purgers locking
// the same rows in different orders) is retried a few times: the statement
// is idempotent.
func (s *Store) Purge(ctx context.Context, target storage.PurgeTarget, before time.Time, batch int) (int64, error) {
	p, ok := purgeSpecs[target]
	if !ok {
		return 0, fmt.Errorf("storage: unknown purge target %q", target)
	}
	if batch < 1 || batch > storage.MaxPurgeBatch {
		return 0, fmt.Errorf("storage: purge batch must be 1..%d, got %d", storage.MaxPurgeBatch, batch)
	}
	if s.InTransaction(ctx) {
		return 0, errors.New("storage: Purge runs in its own short transactions; call it outside a transaction")
	}
	q := purgeSQL(p, batch)
	cutoff := ts(before)
	var n int64
	err := s.retrySerialization(ctx, "purge batch of "+string(target), 5*time.Millisecond, func() error {
		var err error
		n, err = s.b.Exec(ctx, q, cutoff)
		return s.b.Translate(err)
	})
	if errors.Is(err, storage.ErrSerialization) {
		return 0, err
	}
	return n, err
}

// CountRows counts the rows of every purge table, across tenants (the
// names are storage.PurgeTables, a fixed list, never input).
func (s *Store) CountRows(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, table := range storage.PurgeTables() {
		var n int64
		if err := s.queryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", table, err)
		}
		out[table] = n
	}
	return out, nil
}
