package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/storage"
)

const janitorUsage = `gatehouse janitor [--config FILE] [--dev] [--batch N] [--json]

Runs one janitor pass now and prints how many rows it deleted per table, in
every tenant: expired authorization codes, access tokens, refresh tokens
(used or revoked ones are kept until they expire, for reuse detection),
client assertion ids and pending authorizations; browser
sessions that expired or were revoked more than 24h ago; events delivered
more than 30 days ago (undelivered events are never deleted). --json prints
{"deleted":{"<table>":N,…},"total":N,"duration_ms":N}.

Rows go in batches of at most --batch rows, each batch its own short
transaction with a short pause after it, so a running server is not held
up. serve does the same by itself every GATEHOUSE_JANITOR_INTERVAL; running
this beside it, or on several hosts at once, is safe.

Only GATEHOUSE_DSN is needed, and the database must be migrated (gatehouse
migrate up). --dev uses the development database (sqlite:gatehouse.db) when
GATEHOUSE_DSN is unset.`

func runJanitor(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "janitor", janitorUsage)
	path := fs.String("config", "", "YAML configuration `file` (GATEHOUSE_* variables override it)")
	dev := fs.Bool("dev", false, "use the development database when GATEHOUSE_DSN is unset")
	batch := fs.Int("batch", janitor.DefaultBatch, fmt.Sprintf("delete at most `N` rows per statement (1..%d)", storage.MaxPurgeBatch))
	asJSON := fs.Bool("json", false, "print JSON on stdout instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *batch > storage.MaxPurgeBatch {
		return fmt.Errorf("%w: --batch: want 1..%d, got %d", errUsage, storage.MaxPurgeBatch, *batch)
	}
	store, err := openStore(ctx, e, *path, *dev)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := requireMigrated(ctx, store); err != nil {
		return err
	}
	j, err := janitor.New(store, janitor.Options{Batch: *batch})
	if err != nil {
		return err
	}
	res, err := j.Pass(ctx)
	if err != nil {
		return fmt.Errorf("%w (%d rows were deleted before)", err, res.Total())
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Deleted    map[string]int64 `json:"deleted"`
			Total      int64            `json:"total"`
			DurationMS int64            `json:"duration_ms"`
		}{res.Deleted, res.Total(), res.Duration.Milliseconds()})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tDELETED")
	for _, table := range storage.PurgeTables() {
		fmt.Fprintf(tw, "%s\t%d\n", table, res.Deleted[table])
	}
	fmt.Fprintf(tw, "total\t%d\n", res.Total())
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "one pass in %s\n", res.Duration.Round(time.Millisecond))
	return nil
}
