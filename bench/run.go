package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/argon2"
	"github.com/jackc/pgx/v5"
)

// report is what a run writes to bench/results/.
type report struct {
	Time      time.Time         `json:"time"`
	Commit    string            `json:"commit"`
	Machine   map[string]string `json:"machine"`
	Settings  map[string]string `json:"settings"`
	IdleRSSMB float64           `json:"server_idle_rss_mb"`
	// Calibration is the machine's speed at the start and the end of the
	// run: runs on other days compare by it (this machine's speed has
	// varied by a factor of two between days).
	Calibration []calibration  `json:"calibration,omitempty"`
	Results     []result       `json:"results"`
	Extra       map[string]any `json:"extra,omitempty"`
}

func run(ctx context.Context, o options) error {
	srv, err := startServer(ctx, o)
	if err != nil {
		return err
	}
	defer srv.stop(o.keep)
	b, err := newBench(ctx, o, srv)
	if err != nil {
		return err
	}
	defer b.close()
	defer b.stopReference()
	database := "fresh: only what the scenarios use"
	if o.db == "postgres" && !o.fresh {
		if err := b.establish(ctx); err != nil {
			return err
		}
		database = fmt.Sprintf("established: %d rows in each table the store needs established, analyzed, then the server restarted", establishedRows)
	}

	rep := report{Time: time.Now().UTC(), Commit: commit(), Machine: machine(), Extra: map[string]any{},
		Settings: map[string]string{"db": o.db, "conns": fmt.Sprint(o.conns), "duration": o.duration.String(),
			"warmup": o.warmup.String(), "durability": durability(ctx, o.db, srv.dsn),
			"argon2id": fmt.Sprintf("m=%dKiB t=%d p=1", o.argonM, o.argonT), "database": database}}
	time.Sleep(time.Second) // let the server settle after start-up and seeding
	rss, _ := procRSS(srv.pid)
	rep.IdleRSSMB = float64(rss) / (1 << 20)
	fmt.Fprintf(os.Stderr, "gatehouse pid %d on %s; idle RSS %.1f MB\n", srv.pid, o.db, rep.IdleRSSMB)

	var names []string
	for _, name := range strings.Split(o.scenarios, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	paired := slices.Contains(names, "hash_only") && slices.Contains(names, "login")
	rep.Calibration = append(rep.Calibration, calibrate(o))
	for _, name := range names {
		var r result
		var err error
		switch {
		case paired && name == "hash_only":
			continue // measured with login, below
		case paired && name == "login":
			var hash result
			var ratio pairedRatio
			if hash, r, ratio, err = b.loginPairs(ctx); err == nil {
				rep.Results = append(rep.Results, hash)
				rep.Extra["login_ratio"] = ratio
			}
		default:
			r, err = b.median(ctx, name, "")
		}
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
	}
	if o.burst > 0 {
		if rep.Extra["burst"], err = b.burst(ctx, o.burst); err != nil {
			return err
		}
	}
	if o.janitor {
		if err := b.janitorRun(ctx, &rep); err != nil {
			return err
		}
	}
	if o.large {
		if err := b.largeRun(ctx, &rep); err != nil {
			return err
		}
	}
	rep.Calibration = append(rep.Calibration, calibrate(o))
	if mode := srv.planMode(); mode != "" {
		rep.Settings["plan_cache_mode"] = mode
	}
	printTable(os.Stdout, rep)
	return writeReport(o.out, rep)
}

// pairedRatio is one scenario's rate as a share of a baseline's, per round
// and the median of the rounds: login against hash_only, client_credentials
// after the janitor's purge against a fresh database.
type pairedRatio struct {
	Rounds []float64 `json:"rounds"`
	Median float64   `json:"median"`
	// Method says what each round compares.
	Method string `json:"method"`
}

// bracketedRatios compares each measured run with the mean of the baseline
// runs just before and just after it (base has one run more than
// measured): the machine's speed drifts by more than the difference being
// judged, and a baseline on both sides cancels a drift that is steady over
// the round, where one taken before the measured run alone would count it
// in full.
func bracketedRatios(base, measured []float64, method string) pairedRatio {
	r := pairedRatio{Method: method}
	for i, m := range measured {
		if i+1 < len(base) && base[i]+base[i+1] > 0 {
			r.Rounds = append(r.Rounds, m/((base[i]+base[i+1])/2))
		}
	}
	sorted := slices.Clone(r.Rounds)
	slices.Sort(sorted)
	if n := len(sorted); n > 0 {
		r.Median = sorted[n/2]
		if n%2 == 0 {
			r.Median = (sorted[n/2-1] + sorted[n/2]) / 2
		}
	}
	return r
}

// loginPairs measures hash_only and login in alternation: hash_only,
// then -repeat rounds of login followed by hash_only, each login compared
// with the baselines on both sides of it (bracketedRatios). It reports each
// scenario's median run and the ratio of every round.
func (b *bench) loginPairs(ctx context.Context) (hash, login result, ratio pairedRatio, err error) {
	logins, hashes, err := alternateRuns(b.o.repeat,
		func() (result, error) { return b.runScenario(ctx, "login", "") },
		func() (result, error) { return b.runScenario(ctx, "hash_only", "") },
		func(l, before, after result) {
			if before.RPS+after.RPS > 0 {
				fmt.Fprintf(os.Stderr, "login / mean(hash_only before, after) this round: %.1f %%\n", 100*l.RPS/((before.RPS+after.RPS)/2))
			}
		})
	if err != nil {
		return hash, login, ratio, err
	}
	return medianOf(hashes), medianOf(logins),
		bracketedRatios(rates(hashes), rates(logins), "login / mean(hash_only before, hash_only after)"), nil
}

// alternateRuns runs base, then n times (at least once) measured followed
// by base: the runs bracketedRatios compares. round, if not nil, is told
// of each measured run with the base runs on both sides of it.
func alternateRuns(n int, measured, base func() (result, error), round func(m, before, after result)) (ms, bs []result, err error) {
	r, err := base()
	if err != nil {
		return nil, nil, err
	}
	bs = append(bs, r)
	for range max(n, 1) {
		m, err := measured()
		if err != nil {
			return nil, nil, err
		}
		r, err := base()
		if err != nil {
			return nil, nil, err
		}
		ms, bs = append(ms, m), append(bs, r)
		if round != nil {
			round(m, bs[len(bs)-2], r)
		}
	}
	return ms, bs, nil
}

// rates are the runs' req/s.
func rates(rs []result) []float64 { return each(rs, func(r result) float64 { return r.RPS }) }

// p99s are the runs' 99th percentiles.
func p99s(rs []result) []float64 { return each(rs, func(r result) float64 { return r.P99ms }) }

// each is f of every run.
func each(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// medianOf returns the run with the median req/s, noting the spread.
func medianOf(runs []result) result {
	runs = slices.Clone(runs)
	slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.RPS, b.RPS) })
	m := runs[len(runs)/2]
	if len(runs) > 1 {
		m.Runs = len(runs)
		m.MinRPS, m.MaxRPS = runs[0].RPS, runs[len(runs)-1].RPS
	}
	return m
}

// median runs a scenario -repeat times and returns the run with the median
// req/s, noting the spread.
func (b *bench) median(ctx context.Context, name, suffix string) (result, error) {
	var runs []result
	for range max(b.o.repeat, 1) {
		r, err := b.runScenario(ctx, name, suffix)
		if err != nil {
			return r, err
		}
		runs = append(runs, r)
	}
	return medianOf(runs), nil
}

// settle gives every scenario the same start: no autovacuum or checkpoint
// left over from the previous one running into it.
func (b *bench) settle(ctx context.Context) {
	if b.o.db != "postgres" {
		return
	}
	conn, err := pgx.Connect(ctx, b.srv.dsn)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	_, _ = conn.Exec(ctx, "VACUUM ANALYZE")
	_, _ = conn.Exec(ctx, "CHECKPOINT")
}

func (b *bench) runScenario(ctx context.Context, name, suffix string) (result, error) {
	b.settle(ctx)
	sc, err := b.scenario(name)
	if err != nil {
		return result{}, err
	}
	defer sc.close()
	pid := b.srv.pid
	if name == "hash_only" {
		pid = 0 // measured in the bench process
	}
	stopProfile := func() {}
	var atMeasure func()
	if b.o.profile == name {
		// From the end of the warm-up: the connections' set-up (sign-ins,
		// argon2id) is not what the scenario measures.
		atMeasure = func() { stopProfile = b.startProfile(name) }
	}
	r, err := drive(ctx, name+suffix, b.o.conns, b.o.warmup, b.o.duration, pid, sc.newWorker, atMeasure)
	stopProfile()
	r.Note, r.HTTPRequests = sc.note, sc.perIter
	fmt.Fprintf(os.Stderr, "%-32s %8.0f/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  cpu ms/req: server %.3f postgres %.3f bench %.3f machine %.3f  rss %.0f MB\n",
		r.Scenario, r.RPS, r.P50ms, r.P99ms, r.Errors, r.CPUmsPerReq, r.DBCPUms, r.BenchCPUms, r.MachineCPUms, r.PeakRSSMB)
	if r.FirstError != "" {
		fmt.Fprintf(os.Stderr, "  first error: %s\n", r.FirstError)
	}
	return r, err
}

func printTable(w *os.File, rep report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\treq/s\tp50 ms\tp90 ms\tp99 ms\terrors\tserver CPU ms/req\tpeak RSS MB\t\n")
	for _, r := range rep.Results {
		cpu, rss := fmt.Sprintf("%.3f", r.CPUmsPerReq), fmt.Sprintf("%.0f", r.PeakRSSMB)
		if r.Scenario == "hash_only" {
			cpu, rss = "(bench)", "-"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t\n", r.Scenario, r.RPS, r.P50ms, r.P90ms, r.P99ms, r.Errors, cpu, rss)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nidle RSS %.1f MB; %s; commit %s; %s\n", rep.IdleRSSMB, rep.Settings["db"], rep.Commit, rep.Machine["cpu"])
	for _, c := range rep.Calibration {
		fmt.Fprintf(w, "calibration at %s: one argon2id hash %.1f ms, one P-256 signature %.1f µs (one core, idle server)\n",
			c.At.Format("15:04:05"), c.Argon2idMs, c.P256SignUs)
	}
	for k, v := range rep.Extra {
		raw, _ := json.Marshal(v)
		fmt.Fprintf(w, "%s: %s\n", k, raw)
	}
}

func writeReport(dir string, rep report) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.json", rep.Time.Format("20060102-150405"), rep.Settings["db"], rep.Commit))
	if err := os.WriteFile(name, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", name)
	return nil
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(strings.TrimSpace(string(st))) > 0 {
		c += "-dirty"
	}
	return c
}

func machine() map[string]string {
	m := map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "model name") {
				m["cpu"] = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(raw), "\n", 2)[0], "MemTotal:"))
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	return m
}

// durability describes what a committed write means: for PostgreSQL the
// bench database's synchronous_commit.
func durability(ctx context.Context, db, dsn string) string {
	if db != "postgres" {
		return "SQLite WAL, synchronous=FULL"
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "PostgreSQL defaults"
	}
	defer conn.Close(context.Background())
	var sc string
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
		return "PostgreSQL defaults"
	}
	return "PostgreSQL synchronous_commit=" + sc + " (every issued token committed before the response)"
}

// calibration is how fast this machine ran one core's worth of the two
// costs the scenarios are made of, while the server idled: a password hash
// (memory-bound) and an ECDSA signature (compute-bound).
type calibration struct {
	At         time.Time `json:"at"`
	Argon2idMs float64   `json:"argon2id_ms"`
	P256SignUs float64   `json:"p256_sign_us"`
}

// calibrate measures both, each the median of several runs on one goroutine.
func calibrate(o options) calibration {
	median := func(n int, f func()) time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			t0 := time.Now()
			f()
			d[i] = time.Since(t0)
		}
		slices.Sort(d)
		return d[n/2]
	}
	salt := []byte("0123456789abcdef")
	hash := median(7, func() { _ = argon2.IDKey([]byte(benchPassword), salt, uint32(o.argonT), uint32(o.argonM), 1, 32) })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("calibration"))
	sign := median(7, func() {
		for range 100 {
			_, _ = ecdsa.SignASN1(rand.Reader, key, digest[:])
		}
	})
	return calibration{At: time.Now().UTC(), Argon2idMs: float64(hash.Microseconds()) / 1000,
		P256SignUs: float64(sign.Nanoseconds()) / 100 / 1000}
}
