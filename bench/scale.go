package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// sizes reports rows and on-disk bytes of the token tables.
func (b *bench) sizes(ctx context.Context, conn *pgx.Conn) (map[string]any, error) {
	out := map[string]any{}
	for _, t := range []string{"oauth2_access", "oauth2_refresh", "oauth2_code", "users", "consent_grants", "login_sessions"} {
		var rows, bytes int64
		if err := conn.QueryRow(ctx, "SELECT count(*), pg_total_relation_size('"+t+"') FROM "+t).Scan(&rows, &bytes); err != nil {
			return nil, err
		}
		out[t] = map[string]any{"rows": rows, "mb": float64(bytes) / (1 << 20)}
	}
	return out, nil
}

// establishedRows is how many rows establish puts in each table.
const establishedRows = 5000

// establish makes the database look like one in service, as the store
// judges it (storage/postgres: every table that grows with traffic analyzed
// with at least 1,000 rows, when PostgreSQL's plan cache is allowed), then
// restarts the server so that its pool connects again and reads that. A
// database of a few rows is a deployment's first minutes; -fresh measures
// that instead.
func (b *bench) establish(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, b.srv.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	fmt.Fprintf(os.Stderr, "seeding an established database (%d rows in each table that grows with traffic) …\n", establishedRows)
	for _, q := range storagetest.EstablishedSeed(establishedRows, b.web.id) {
		if _, err := conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	b.settle(ctx)
	return b.srv.restart(ctx)
}

// janitorRun shows the cost of expired tokens: 1,000,000 issued-and-expired
// access tokens (copies of a real issued token, with a past expiry) are
// added; client_credentials is measured with them, while the janitor
// purges them, and after, in alternation with a fresh database; the tables
// return to their live row count.
func (b *bench) janitorRun(ctx context.Context, rep *report) error {
	if b.o.db != "postgres" {
		return errors.New("-janitor needs -db postgres")
	}
	conn, err := pgx.Connect(ctx, b.srv.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	out := map[string]any{}
	before, err := b.median(ctx, "client_credentials", " (janitor: before)")
	if err != nil {
		return err
	}
	out["before_rps"] = before.RPS
	if out["live"], err = b.sizes(ctx, conn); err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Fprintln(os.Stderr, "issuing 1,000,000 expired access tokens …")
	if _, err := conn.Exec(ctx, `INSERT INTO oauth2_access (signature, tenant_id, request_id, client_id, subject, requested_at,
			expires_at, scopes, granted_scopes, audience, granted_audience, form_data, session_data, active)
		SELECT encode(sha256(('expired-' || g)::bytea), 'hex'), a.tenant_id, 'expired-' || g, a.client_id, a.subject,
			now() - interval '2 hours', now() - interval '1 hour', a.scopes, a.granted_scopes, a.audience,
			a.granted_audience, a.form_data, a.session_data, true
		FROM (SELECT * FROM oauth2_access LIMIT 1) a, generate_series(1, 1000000) g`); err != nil {
		return err
	}
	out["seed_seconds"] = time.Since(t0).Seconds()
	b.settle(ctx)
	if out["with_expired"], err = b.sizes(ctx, conn); err != nil {
		return err
	}
	bloated, err := b.median(ctx, "client_credentials", " (janitor: 1M expired)")
	if err != nil {
		return err
	}
	rep.Results = append(rep.Results, before, bloated)

	// The janitor's pass, with client_credentials load running beside it.
	j, err := janitor.New(b.store, janitor.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	type passResult struct {
		res janitor.Result
		err error
	}
	done := make(chan passResult, 1)
	go func() {
		res, err := j.Pass(ctx)
		done <- passResult{res, err}
	}()
	sc, err := b.scenario("client_credentials")
	if err != nil {
		return err
	}
	during, err := drive(ctx, "client_credentials (janitor: during purge)", b.o.conns, 0, b.o.duration, b.srv.pid, sc.newWorker, nil)
	sc.close()
	if err != nil {
		return err
	}
	pr := <-done
	if pr.err != nil {
		return pr.err
	}
	rep.Results = append(rep.Results, during)
	out["purge_seconds"] = pr.res.Duration.Seconds()
	out["purged"] = pr.res.Deleted
	out["purge_rows_per_second"] = float64(pr.res.Total()) / pr.res.Duration.Seconds()
	b.settle(ctx) // VACUUM: the freed space is reused (the files keep their size)
	if out["after_purge"], err = b.sizes(ctx, conn); err != nil {
		return err
	}

	// After the purge, in alternation with a fresh database: the machine's
	// speed drifts over the minutes the expired rows and the purge take by
	// more than the 10 % being judged, so "fresh" is measured again, on a
	// second server with a new established database, before and after each
	// run on the purged one (bracketedRatios, as login with hash_only).
	afterRuns, refRuns, err := b.alternate(ctx, "client_credentials", " (janitor: after purge)", " (janitor: fresh database)")
	if err != nil {
		return err
	}
	after, refFresh := medianOf(afterRuns), medianOf(refRuns)
	ratio := bracketedRatios(rates(refRuns), rates(afterRuns),
		"after purge / mean(fresh database before, fresh database after)")
	rep.Results = append(rep.Results, after, refFresh)
	out["after_rps"] = after.RPS
	out["after_vs_fresh"] = ratio
	out["after_vs_before"] = after.RPS / before.RPS
	rep.Extra["janitor"] = out
	fmt.Fprintf(os.Stderr, "janitor: purged %d rows in %.1fs; client_credentials %.0f/s before, %.0f/s with 1M expired, %.0f/s during the purge, %.0f/s after; after / fresh database, bracketed: %.1f %% (rounds %s)\n",
		pr.res.Total(), pr.res.Duration.Seconds(), before.RPS, bloated.RPS, during.RPS, after.RPS, 100*ratio.Median, percents(ratio.Rounds))
	return nil
}

// reference is a second server on a new database, established and seeded
// as the first was: the fresh, small database that the janitor's and the
// large database's figures are compared with, in alternation. It starts on
// first use; run stops it and drops its database.
func (b *bench) reference(ctx context.Context) (*bench, error) {
	if b.ref != nil {
		return b.ref, nil
	}
	fmt.Fprintln(os.Stderr, "starting a second server on a new database, to compare with …")
	srv, err := startServer(ctx, b.o)
	if err != nil {
		return nil, err
	}
	ref, err := newBench(ctx, b.o, srv)
	if err != nil {
		srv.stop(b.o.keep)
		return nil, err
	}
	stop := func() {
		ref.close()
		srv.stop(b.o.keep)
	}
	if err := ref.establish(ctx); err != nil {
		stop()
		return nil, err
	}
	b.ref, b.stopRef = ref, stop
	return ref, nil
}

// stopReference stops the reference server, if one was started.
func (b *bench) stopReference() {
	if b.stopRef != nil {
		b.stopRef()
		b.ref, b.stopRef = nil, nil
	}
}

// alternate runs a scenario on the reference's fresh database and on this
// one in turn: the reference, then -repeat times this one and the
// reference, so that bracketedRatios can compare each run here with the
// reference runs on both sides of it.
func (b *bench) alternate(ctx context.Context, name, suffix, refSuffix string) (mine, base []result, err error) {
	ref, err := b.reference(ctx)
	if err != nil {
		return nil, nil, err
	}
	return alternateRuns(b.o.repeat,
		func() (result, error) { return b.runScenario(ctx, name, suffix) },
		func() (result, error) { return ref.runScenario(ctx, name, refSuffix) }, nil)
}

// percents formats ratios as "91.2, 88.0, …".
func percents(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.1f", 100*r)
	}
	return strings.Join(parts, ", ")
}

// largeRun adds 1,000,000 accounts and 10,000,000 live token rows and
// reruns the scenarios whose queries they could slow down, in alternation
// with a small database, with the plans of the hot queries (EXPLAIN
// ANALYZE).
func (b *bench) largeRun(ctx context.Context, rep *report) error {
	if b.o.db != "postgres" {
		return errors.New("-large needs -db postgres")
	}
	conn, err := pgx.Connect(ctx, b.srv.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	small := map[string]result{}
	for _, r := range rep.Results {
		small[r.Scenario] = r
	}
	out := map[string]any{}
	t0 := time.Now()
	fmt.Fprintln(os.Stderr, "seeding 1,000,000 accounts (with a password, a grant and a browser session each) …")
	for _, q := range []string{
		`INSERT INTO users (tenant_id, id, email, email_normalized, email_verified, name, status, resettable, metadata, created_at, updated_at)
		 SELECT 'default', 'seed-' || g, 'seed' || g || '@bench.example', 'seed' || g || '@bench.example', true, 'Seed User',
			'active', true, '{}', now(), now() FROM generate_series(1, 1000000) g`,
		`INSERT INTO credentials (tenant_id, user_id, type, secret, created_at, updated_at)
		 SELECT 'default', 'seed-' || g, 'password', (SELECT secret FROM credentials LIMIT 1), now(), now()
		 FROM generate_series(1, 1000000) g`,
		fmt.Sprintf(`INSERT INTO consent_grants (tenant_id, id, user_id, client_id, scopes, created_at, updated_at)
		 SELECT 'default', 'seed-grant-' || g, 'seed-' || g, '%s', '["openid","offline_access"]', now(), now()
		 FROM generate_series(1, 1000000) g`, b.webES.id),
		`INSERT INTO login_sessions (tenant_id, id, token_hash, user_id, auth_time, amr, acr, created_at, expires_at)
		 SELECT 'default', 'seed-session-' || g, sha256(('seed-session-' || g)::bytea), 'seed-' || g, now(), '["pwd"]', '1',
			now(), now() + interval '1 day' FROM generate_series(1, 1000000) g`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	out["accounts_seed_seconds"] = time.Since(t0).Seconds()
	t0 = time.Now()
	for _, table := range []string{"oauth2_access", "oauth2_refresh"} {
		for chunk := range 5 {
			fmt.Fprintf(os.Stderr, "seeding %s rows %d–%d …\n", table, chunk*1000000+1, (chunk+1)*1000000)
			extra, extraVal := "", ""
			if table == "oauth2_refresh" {
				extra, extraVal = ", access_signature", ", ''"
			}
			q := fmt.Sprintf(`INSERT INTO %[1]s (signature, tenant_id, request_id, client_id, subject, requested_at, expires_at,
					scopes, granted_scopes, audience, granted_audience, form_data, session_data, active%[2]s)
				SELECT encode(sha256(('%[1]s-' || g)::bytea), 'hex'), 'default', 'seed-req-' || g, '%[4]s', 'seed-' || (g %% 1000000 + 1),
					now(), now() + interval '30 days', '["openid"]', '["openid"]', '[]', '[]', 'scope=openid',
					decode(repeat('ab', 300), 'hex'), %[5]s%[3]s
				FROM generate_series(%[6]d, %[7]d) g`,
				table, extra, extraVal, b.web.id, map[string]string{"oauth2_access": "true", "oauth2_refresh": "false"}[table],
				chunk*1000000+1, (chunk+1)*1000000)
			if _, err := conn.Exec(ctx, q); err != nil {
				return err
			}
		}
	}
	out["tokens_seed_seconds"] = time.Since(t0).Seconds()
	b.settle(ctx)
	if out["sizes"], err = b.sizes(ctx, conn); err != nil {
		return err
	}
	// In alternation with the small, fresh database of a second server
	// (reference): the machine's speed drifts over the many minutes of
	// seeding by more than the 20 % being judged.
	for _, name := range []string{"login", "introspect", "refresh"} {
		large, base, err := b.alternate(ctx, name, " (1M accounts, 10M tokens)", " (small database)")
		if err != nil {
			return err
		}
		l, s := medianOf(large), medianOf(base)
		rep.Results = append(rep.Results, l, s)
		ratio := bracketedRatios(p99s(base), p99s(large),
			"p99 on the large database / mean(p99 on the small database before, after)")
		out[name+"_p99_ratio"] = ratio
		if before, ok := small[name]; ok && before.P99ms > 0 {
			out[name+"_p99_vs_before"] = l.P99ms / before.P99ms
		}
		fmt.Fprintf(os.Stderr, "%s p99: %.2f ms small, %.2f ms large; large / small, bracketed: %.0f %% (rounds %s)\n",
			name, s.P99ms, l.P99ms, 100*ratio.Median, percents(ratio.Rounds))
	}
	if out["explain"], err = explainHot(ctx, conn); err != nil {
		return err
	}
	rep.Extra["large"] = out
	return nil
}

// explainHot returns the plans of the queries every hot path runs, with a
// real row of each table as the argument.
func explainHot(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	var sig, reqID, email, user, client, tokenHash string
	if err := conn.QueryRow(ctx, `SELECT signature, request_id FROM oauth2_refresh WHERE active ORDER BY requested_at DESC LIMIT 1`).Scan(&sig, &reqID); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT email_normalized, id FROM users WHERE id LIKE 'seed-5%' LIMIT 1`).Scan(&email, &user); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT client_id FROM consent_grants WHERE user_id = $1`, user).Scan(&client); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT encode(token_hash, 'hex') FROM login_sessions LIMIT 1`).Scan(&tokenHash); err != nil {
		return nil, err
	}
	queries := map[string]string{
		"token by signature (introspect, refresh, code)": `SELECT signature, request_id, session_data, active FROM oauth2_refresh WHERE signature = '` + sig + `' AND tenant_id = 'default'`,
		"rotation: spend the refresh token": `WITH r AS (UPDATE oauth2_refresh SET active = false WHERE signature = '` + sig +
			`' AND tenant_id = 'default' AND active RETURNING 1) SELECT gatehouse_expect_row(count(*)) FROM r`,
		"rotation: drop the grant's access tokens": `DELETE FROM oauth2_access WHERE tenant_id = 'default' AND request_id = '` + reqID + `'`,
		"sign-in: account and password by email":   `SELECT u.id, c.secret FROM users u LEFT JOIN credentials c ON c.tenant_id = u.tenant_id AND c.user_id = u.id AND c.type = 'password' WHERE u.tenant_id = 'default' AND u.email_normalized = '` + email + `'`,
		"refresh: token, account and grant": `SELECT t.request_id, u.status, g.scopes FROM oauth2_refresh t
			JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.subject
			LEFT JOIN consent_grants g ON g.tenant_id = t.tenant_id AND g.user_id = t.subject AND g.client_id = t.client_id
			WHERE t.signature = '` + sig + `' AND t.tenant_id = 'default'`,
		"browser session with its account": `SELECT s.id, u.status FROM login_sessions s
			JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
			WHERE s.token_hash = decode('` + tokenHash + `', 'hex') AND s.tenant_id = 'default'`,
		"client by id": `SELECT id FROM clients WHERE tenant_id = 'default' AND id = '` + client + `'`,
	}
	out := map[string]string{}
	for name, q := range queries {
		tx, err := conn.Begin(ctx) // EXPLAIN ANALYZE runs the statement: roll back its writes
		if err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) "+q)
		if err != nil {
			_ = tx.Rollback(ctx)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				_ = tx.Rollback(ctx)
				return nil, err
			}
			lines = append(lines, line)
		}
		rows.Close()
		_ = tx.Rollback(ctx)
		out[name] = strings.Join(lines, "\n")
		fmt.Fprintf(os.Stderr, "-- %s\n%s\n", name, out[name])
	}
	return out, nil
}
