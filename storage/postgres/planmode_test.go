package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// TestPlanMode: a new connection plans every run (force_custom_plan) until
// every established table has been analyzed holding 1,000 rows, then gets
// PostgreSQL's auto; a table purged below that takes new connections back
// to custom plans; a DSN that sets plan_cache_mode is left alone.
func TestPlanMode(t *testing.T) {
	ctx, conn := planDB(t) // migrated, with client c1 and user u1
	dsn := conn.Config().ConnString()
	for _, table := range postgres.EstablishedTables {
		// Only this test's ANALYZE counts: autovacuum must not analyze
		// a table between two checks.
		exec(t, ctx, conn, "ALTER TABLE "+table+" SET (autovacuum_enabled = false)")
	}
	check := func(step, want string) {
		t.Helper()
		if got := newConnMode(t, ctx, dsn); got != want {
			t.Fatalf("%s: a new connection got plan_cache_mode %q, want %q", step, got, want)
		}
	}
	check("new database", "force_custom_plan")
	exec(t, ctx, conn, storagetest.EstablishedSeed(2000, "c1")...)
	check("2,000 rows each, never analyzed", "force_custom_plan")
	exec(t, ctx, conn, "ANALYZE")
	check("2,000 rows each, analyzed", "auto")
	exec(t, ctx, conn, "DELETE FROM oauth2_code WHERE signature NOT IN (SELECT signature FROM oauth2_code LIMIT 500)", "ANALYZE oauth2_code")
	check("codes purged to 500", "force_custom_plan")
	exec(t, ctx, conn, "ALTER TABLE oauth2_code RENAME TO oauth2_code_gone")
	check("a table missing", "force_custom_plan")
	exec(t, ctx, conn, "ALTER TABLE oauth2_code_gone RENAME TO oauth2_code")

	// Pinned by the DSN: no statistics read, nothing chosen.
	if got := newConnMode(t, ctx, dsn+"&plan_cache_mode=force_generic_plan"); got != "" {
		t.Fatalf("a DSN with plan_cache_mode: the store chose %q", got)
	}
}

// newConnMode opens a store on dsn, makes it open a connection, and returns
// the plan mode the store logged for it ("" when it logged none).
func newConnMode(t *testing.T, ctx context.Context, dsn string) string {
	t.Helper()
	var buf syncBuffer
	s, err := postgres.Open(dsn, postgres.Config{}, sqlstore.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Mode string `json:"plan_cache_mode"`
		}
		if line != "" && json.Unmarshal([]byte(line), &rec) == nil && rec.Mode != "" {
			return rec.Mode
		}
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestPlanModeUnreadable: where the statistics cannot be read (an engine
// without these catalog views), connections still open, with custom plans,
// and the store says so once.
func TestPlanModeUnreadable(t *testing.T) {
	dsn := storagetest.PostgresDSN(t)
	saved := *postgres.PlanModeSQL
	*postgres.PlanModeSQL = `SELECT set_config('plan_cache_mode', 'auto', false) FROM no_such_view WHERE $1::text[] IS NOT NULL AND $2 > 0`
	t.Cleanup(func() { *postgres.PlanModeSQL = saved })
	var buf syncBuffer
	s, err := postgres.Open(dsn, postgres.Config{MaxConns: 2}, sqlstore.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("a connection whose statistics query failed was refused: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("the store does not work on it: %v", err)
	}
	log := buf.String()
	if strings.Count(log, "statistics unreadable") != 1 || !strings.Contains(log, `"plan_cache_mode":"force_custom_plan"`) {
		t.Fatalf("want one warning and custom plans logged, got:\n%s", log)
	}
}
