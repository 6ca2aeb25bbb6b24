package postgres_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// recorder keeps every distinct statement the stores of this package's
// tests sent, batched (pipelined transactions) or not.
type recorder struct {
	mu  sync.Mutex
	sql map[string]bool
}

var statements = &recorder{sql: map[string]bool{}}

func (r *recorder) add(q string) {
	r.mu.Lock()
	r.sql[q] = true
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.sql))
	for q := range r.sql {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL)
	return ctx
}
func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *recorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (r *recorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.add(d.SQL)
}
func (r *recorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// Statements whose plans are not checked: migrations and their lock (run
// once, before anything else), transaction control, inserts (no plan
// choice) and the test suite's own helpers.
var unplanned = regexp.MustCompile(`(?is)^\s*(-- ping|begin|commit|rollback|savepoint|release|insert\b|create\b|drop\b|alter\b|set\b|select pg_|select 1\b|vacuum|analyze)|goose_db_version|gatehouse_migration_lock|pg_tables|pg_class|information_schema`)

// testPlans: every statement the conformance suite ran can be answered from
// an index: with sequential scans disabled, even its generic plan made on a
// new database (analyzed empty tables) has none. (Which index the planner
// picks there is another matter: it picks among equals, which is why a new
// database plans each execution; see planMode.)
func testPlans(t *testing.T) {
	ctx, conn := planDB(t)
	exec(t, ctx, conn, "ANALYZE", "SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off")
	forEachPlan(t, ctx, conn, func(q, plan string) {
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("not answered from an index:\n%s\n%s", q, plan)
		}
	})
}

// testPlansEstablished: on an established database (every table of
// postgres's established list analyzed with 5,000 rows), where connections
// may use generic plans, every statement's generic plan, with sequential
// scans allowed, reads no established table whole and finds its rows by more
// than the tenant (no index scan whose only condition is tenant_id), except
// pages of a list (LIMIT), which are a tenant's range by design.
func testPlansEstablished(t *testing.T) {
	if !tenantOnly.MatchString("  Index Cond: (tenant_id = $1)\n") || tenantOnly.MatchString("  Index Cond: ((tenant_id = $1) AND (id = $2))\n") {
		t.Fatal("tenantOnly does not tell a tenant's range from a lookup")
	}
	ctx, conn := planDB(t)
	exec(t, ctx, conn, storagetest.EstablishedSeed(5000, "c1")...)
	exec(t, ctx, conn, "ANALYZE", "SET plan_cache_mode = force_generic_plan")
	forEachPlan(t, ctx, conn, func(q, plan string) {
		for _, table := range postgres.EstablishedTables {
			if strings.Contains(plan, "Seq Scan on "+table+" ") || strings.HasSuffix(plan, "Seq Scan on "+table) {
				t.Errorf("reads %s whole:\n%s\n%s", table, q, plan)
			}
		}
		if !regexp.MustCompile(`(?i)\blimit\b`).MatchString(q) {
			for _, cond := range tenantOnly.FindAllString(plan, -1) {
				t.Errorf("a tenant's whole range (%s):\n%s\n%s", strings.TrimSpace(cond), q, plan)
			}
		}
	})
}

// tenantOnly is an index condition on the tenant alone.
var tenantOnly = regexp.MustCompile(`Index Cond: \(\(?(\w+\.)?tenant_id = [^()]*\)?\)\n`)

// forEachPlan prepares every statement the conformance suite ran on conn
// and hands check its generic plan (EXPLAIN EXECUTE with NULL arguments,
// under the connection's settings).
func forEachPlan(t *testing.T, ctx context.Context, conn *pgx.Conn, check func(q, plan string)) {
	checked := 0
	for i, q := range statements.all() {
		if unplanned.MatchString(q) {
			continue
		}
		name := fmt.Sprintf("s%d", i)
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+q); err != nil {
			t.Errorf("PREPARE %s: %v", q, err)
			continue
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		args := strings.TrimSuffix(strings.Repeat("NULL,", n), ",")
		if n > 0 {
			args = "(" + args + ")"
		}
		var lines []string
		rows, err := conn.Query(ctx, "EXPLAIN (COSTS OFF) EXECUTE "+name+args)
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", q, err)
			continue
		}
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
		plan := strings.Join(lines, "\n") + "\n"
		checked++
		check(q, plan)
		if testing.Verbose() {
			t.Logf("%s\n%s", q, plan)
		}
	}
	if checked < 40 {
		t.Fatalf("only %d statements checked: the recorder saw too little", checked)
	}
	t.Logf("%d statements checked", checked)
}
