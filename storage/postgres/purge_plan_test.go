package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// seedPlanRows: a client and a user, then 5,000 rows in each purge table
// that is not a token table, part of them past the cutoff.
var seedPlanRows = []string{
	`INSERT INTO clients (tenant_id, id, name, redirect_uris, post_logout_redirect_uris, grant_types, response_types,
		scopes, audience, public, token_endpoint_auth_method, id_token_alg, access_token_format, skip_consent, created_at, updated_at)
		VALUES ('default', 'c1', 'c', '[]', '[]', '[]', '[]', '[]', '[]', false, 'none', 'RS256', 'opaque', false, now(), now())`,
	`INSERT INTO users (tenant_id, id, metadata, created_at, updated_at) VALUES ('default', 'u1', '{}', now(), now())`,
	`INSERT INTO oauth2_jti (tenant_id, jti_hash, expires_at)
		SELECT 'default', 'j' || g, now() + (g - 1500) * interval '1 minute' FROM generate_series(1, 5000) g`,
	`INSERT INTO auth_flows (tenant_id, id, client_id, state, device_hash, data, created_at, expires_at)
		SELECT 'default', 'f' || g, 'c1', 'login', '\x00', '{}', now(), now() + (g - 1500) * interval '1 minute' FROM generate_series(1, 5000) g`,
	`INSERT INTO login_sessions (tenant_id, id, token_hash, user_id, auth_time, amr, created_at, expires_at, revoked_at)
		SELECT 'default', 's' || g, ('x' || g)::bytea, 'u1', now(), '[]', now(), now() + (g - 1500) * interval '1 minute',
			CASE WHEN g % 10 = 0 THEN now() - (g % 100) * interval '1 hour' END FROM generate_series(1, 5000) g`,
	`INSERT INTO events (id, tenant_id, type, data, created_at, delivered_at)
		SELECT 'e' || g, 'default', 't', '{}', now() - g * interval '1 hour',
			CASE WHEN g % 3 = 0 THEN now() - g * interval '1 hour' END FROM generate_series(1, 5000) g`,
}

// TestPurgeBatchesAreIndexRangeScans checks the plan of every purge batch:
// the rows to delete are found by a range scan of the time column's index,
// custom plan or generic (pgx caches prepared statements, so PostgreSQL may
// switch to the generic plan). Where few rows match (revoked sessions here)
// that may be a bitmap scan of the same index.
//
// On these small tables (5,000 rows) PostgreSQL may then delete through a
// hash semi-join over one pass of the table rather than 1,000 primary-key
// probes, which its cost model finds cheaper there;
// TestPurgeBatchOnALargeTable checks that a large table is never read whole.
func TestPurgeBatchesAreIndexRangeScans(t *testing.T) {
	ctx, conn := planDB(t)
	stmts := slices.Clone(seedPlanRows[2:])
	for _, table := range []string{"oauth2_code", "oauth2_access", "oauth2_refresh"} {
		stmts = append(stmts, seedTokens(table, 5000, 1500))
	}
	exec(t, ctx, conn, append(stmts, "ANALYZE")...)
	for _, target := range storage.PurgeTargets() {
		q, ok := sqlstore.PurgeStatement(target, 1000)
		if !ok {
			t.Fatalf("no statement for %s", target)
		}
		cutoff := time.Now()
		if target == storage.PurgeDeliveredEvents {
			cutoff = cutoff.Add(-30 * 24 * time.Hour)
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explain(t, ctx, conn, mode, q, cutoff)
			idx := storagetest.PurgeIndexes[target]
			if !strings.Contains(plan, "Index Scan using "+idx+" on") && !strings.Contains(plan, "Bitmap Index Scan on "+idx+" ") {
				t.Errorf("%s (%s): the rows are not found by a range scan of %s:\n%s", target, mode, idx, plan)
			}
			if testing.Verbose() {
				t.Logf("%s (%s):\n%s\n%s", target, mode, q, plan)
			}
		}
	}
}

// TestPurgeBatchOnALargeTable: on a table of 200,000 tokens, with a backlog
// of expired ones or only a few, a batch is two index scans: the range of
// the oldest expired rows, and one primary-key probe per row. Never a
// sequential scan, in custom and in generic plans.
func TestPurgeBatchOnALargeTable(t *testing.T) {
	ctx, conn := planDB(t)
	q, _ := sqlstore.PurgeStatement(storage.PurgeAccessTokens, 1000)
	for _, expired := range []int{150000, 2000} {
		exec(t, ctx, conn, "TRUNCATE oauth2_access", seedTokens("oauth2_access", 200000, expired), "ANALYZE oauth2_access")
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explain(t, ctx, conn, mode, q, time.Now())
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index Scan using oauth2_access_expires on") ||
				!strings.Contains(plan, "Index Scan using oauth2_access_pkey on") || !strings.Contains(plan, "Delete on oauth2_access (actual rows=0") {
				t.Errorf("%d expired of 200,000 (%s): not a range scan plus key probes:\n%s", expired, mode, plan)
			}
			if testing.Verbose() {
				t.Logf("%d expired of 200,000 (%s):\n%s\n%s", expired, mode, q, plan)
			}
		}
	}
}

// planDB returns a migrated test schema with one client and one user, and a
// connection to it.
func planDB(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	dsn := storagetest.PostgresDSN(t)
	s, err := postgres.Open(dsn, postgres.Config{}, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	exec(t, ctx, conn, seedPlanRows[:2]...)
	return ctx, conn
}

// seedTokens inserts n rows into a token table, the first expired of them
// already expired (one a second, in order), the rest expiring later.
func seedTokens(table string, n, expired int) string {
	return fmt.Sprintf(`INSERT INTO %s (signature, tenant_id, request_id, client_id, subject, requested_at,
		expires_at, scopes, granted_scopes, audience, granted_audience, form_data, session_data, active)
		SELECT md5(g::text), 'default', 'r' || g, 'c1', 'u1', now(), now() + (g - %d) * interval '1 second',
			'["openid"]', '["openid"]', '[]', '[]', 'scope=openid', decode(repeat('ab', 200), 'hex'), g %% 2 = 0
		FROM generate_series(1, %d) g`, table, expired+1, n)
}

func exec(t *testing.T, ctx context.Context, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// explain runs one batch under EXPLAIN ANALYZE, as a prepared statement
// under plan_cache_mode mode, in a transaction it rolls back.
func explain(t *testing.T, ctx context.Context, conn *pgx.Conn, mode, q string, before time.Time) string {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // EXPLAIN ANALYZE deletes: never keep it
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "PREPARE purge_batch AS "+q); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "DEALLOCATE purge_batch") //nolint:errcheck // after the rollback
	rows, err := tx.Query(ctx, fmt.Sprintf("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE purge_batch('%s')",
		before.UTC().Format("2006-01-02 15:04:05.999999+00")))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
