package sqlite_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/sqlite"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// TestPurgeBatchesAreIndexRangeScans checks SQLite's plan of every purge
// batch: a range scan of the time column's index for the keys (no sort:
// the index gives the order), then one primary-key lookup per key; never a
// scan of the table.
func TestPurgeBatchesAreIndexRangeScans(t *testing.T) {
	path := storagetest.SQLitePath(t)
	s, err := sqlite.Open(path, sqlite.Config{}, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_time_integer_format=unix_micro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, target := range storage.PurgeTargets() {
		q, _ := sqlstore.PurgeStatement(target, 1000)
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
		text := strings.Join(plan, "\n")
		idx := storagetest.PurgeIndexes[target]
		pk := "SEARCH " + target.Table() + " USING INDEX sqlite_autoindex_" + target.Table() + "_1 ("
		if !strings.Contains(text, "USING INDEX "+idx+" (") || !strings.Contains(text, pk) || strings.Contains(text, "SCAN "+target.Table()) ||
			strings.Contains(text, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%s: not a range scan of %s plus key lookups:\n%s", target, idx, text)
		}
		if testing.Verbose() {
			t.Logf("%s:\n%s\n%s", target, q, text)
		}
	}
}
