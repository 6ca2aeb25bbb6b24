package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// TestJanitorCommand seeds expired and live rows in every purge table and
// two tenants, runs gatehouse janitor and checks what it printed and what
// is left, on both backends.
func TestJanitorCommand(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		s, _ := c.store()
		// The command reads the real clock a moment after seeding: rows that
		// expire at the fixture's now must still be live then.
		f := storagetest.SeedPurge(t, s, time.Now().Add(30*time.Minute))

		out := c.ok("janitor", "--batch", "2")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(storage.PurgeTables())+3 || !regexp.MustCompile(`^TABLE\s+DELETED$`).MatchString(lines[0]) {
			t.Fatalf("janitor printed:\n%s", out)
		}
		for i, table := range storage.PurgeTables() {
			if want := fmt.Sprintf(`^%s\s+%d$`, table, f.Purged[table]); !regexp.MustCompile(want).MatchString(lines[i+1]) {
				t.Errorf("line %q, want %s", lines[i+1], want)
			}
		}
		if want := fmt.Sprintf(`^total\s+%d$`, f.Total()); !regexp.MustCompile(want).MatchString(lines[len(lines)-2]) {
			t.Errorf("line %q, want %s", lines[len(lines)-2], want)
		}
		if !strings.HasPrefix(lines[len(lines)-1], "one pass in ") {
			t.Errorf("last line %q", lines[len(lines)-1])
		}
		f.CheckPurged(t)

		var again struct {
			Deleted    map[string]int64 `json:"deleted"`
			Total      int64            `json:"total"`
			DurationMS *int64           `json:"duration_ms"`
		}
		c.okJSON(&again, "janitor", "--json")
		if again.Total != 0 || again.DurationMS == nil ||
			!slices.Equal(slices.Sorted(maps.Keys(again.Deleted)), slices.Sorted(slices.Values(storage.PurgeTables()))) {
			t.Errorf("second run --json = %+v; want every table with 0", again)
		}
		for table, n := range again.Deleted {
			if n != 0 {
				t.Errorf("second run deleted %d rows of %s", n, table)
			}
		}
		f.CheckLive(t)
	})
}

func TestJanitorCommandRefusals(t *testing.T) {
	code, out, errs := gatehouse(t, t.Context(), nil, "janitor", "--help")
	if code != 0 || !strings.Contains(out, "Usage: gatehouse janitor") || !strings.Contains(out, "--batch") || errs != "" {
		t.Errorf("janitor --help: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, _ := gatehouse(t, t.Context(), nil, "--help"); code != 0 || !strings.Contains(out, "janitor") ||
		!strings.Contains(out, "GATEHOUSE_JANITOR_INTERVAL") {
		t.Errorf("gatehouse --help does not list janitor and its variable: %q", out)
	}
	for _, batch := range []string{"0", "10001", "many"} {
		if code, _, errs := gatehouse(t, t.Context(), nil, "janitor", "--batch", batch); code != 2 || !strings.Contains(errs, "batch") {
			t.Errorf("janitor --batch %s: exit %d, stderr %q; want 2", batch, code, errs)
		}
	}
	if code, _, errs := gatehouse(t, t.Context(), map[string]string{}, "janitor"); code != 1 || !strings.Contains(errs, "GATEHOUSE_DSN: required") {
		t.Errorf("janitor without a database: exit %d, stderr %q", code, errs)
	}
	// A database that is not migrated is refused with what to do.
	dsn := servertest.DSN(t, "sqlite")
	code, out, errs = gatehouse(t, t.Context(), map[string]string{"GATEHOUSE_DSN": dsn}, "janitor")
	if code != 1 || out != "" || !strings.Contains(errs, "pending migration") || !strings.Contains(errs, "gatehouse migrate up") {
		t.Errorf("janitor on an empty database: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
