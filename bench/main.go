// Command bench is gatehouse's load bench: it builds and starts gatehouse
// as its own process on a fresh database (PostgreSQL by default, SQLite on
// request), seeds what the scenarios need, and drives closed-loop HTTP load
// over keep-alive connections from the same machine. For each scenario it
// reports requests/s, p50/p90/p99 latency, errors, the server's CPU time per
// request and its peak RSS (both read from /proc), prints a table and writes
// JSON under bench/results/. See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

type options struct {
	db        string
	adminDSN  string
	conns     int
	duration  time.Duration
	warmup    time.Duration
	scenarios string
	out       string
	large     bool
	janitor   bool
	burst     int
	keep      bool
	fresh     bool
	profile   string
	repeat    int
	argonT    uint
	argonM    uint
}

func main() {
	var o options
	flag.StringVar(&o.db, "db", "postgres", "database: postgres or sqlite")
	flag.StringVar(&o.adminDSN, "postgres", envOr("GATEHOUSE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL admin `DSN`; the bench creates (and drops) its own database there")
	flag.IntVar(&o.conns, "conns", 16, "concurrent connections (closed loop: each sends its next request when the previous answered)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up per scenario")
	flag.StringVar(&o.scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated `list` of scenarios: "+strings.Join(allScenarios, ", "))
	flag.StringVar(&o.out, "out", "bench/results", "`directory` for the JSON results (empty: none)")
	flag.BoolVar(&o.large, "large", false, "also seed 1,000,000 accounts and 10,000,000 token rows and rerun login, introspect and refresh")
	flag.BoolVar(&o.janitor, "janitor", false, "also issue 1,000,000 expired tokens, run the janitor, and rerun client_credentials")
	flag.IntVar(&o.burst, "burst", 0, "also fire this many concurrent password sign-ins at once and report peak RSS (e.g. 500)")
	flag.BoolVar(&o.fresh, "fresh", false, "measure on the new database as it is (PostgreSQL: custom plans), without first seeding an established one")
	flag.BoolVar(&o.keep, "keep", false, "keep the database and the server's log after the run")
	flag.IntVar(&o.repeat, "repeat", 1, "run each scenario this many times and report the median run (by req/s)")
	def := config.Default().Passwords
	flag.UintVar(&o.argonT, "argon2-iterations", uint(def.Iterations), "argon2id passes, for the server and hash_only")
	flag.UintVar(&o.argonM, "argon2-memory-kib", uint(def.MemoryKiB), "argon2id memory, for the server and hash_only")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of the server during the named `scenario` to bench/results/<scenario>.cpu.prof")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
