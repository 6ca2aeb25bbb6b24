package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverProc is gatehouse running as its own process, on its own database.
type serverProc struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the started process has exited
	pid     int
	url     string // public base URL = issuer
	admin   string
	dsn     string
	dir     string
	logPath string
	dropDB  func()
	bin     string
	env     []string
}

const benchSecret = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"

// readyTimeout is how long the server has to answer /health/ready.
const readyTimeout = 90 * time.Second

var errNotReady = fmt.Errorf("gatehouse did not become ready within %s", readyTimeout)

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// withParams appends BENCH_DSN_PARAMS-style query parameters ("a=b&c=d")
// to a URL DSN, with or without a query already.
func withParams(dsn, params string) string {
	params = strings.TrimLeft(params, "?&")
	switch {
	case params == "":
		return dsn
	case strings.HasSuffix(dsn, "?") || strings.HasSuffix(dsn, "&"):
		return dsn + params
	case strings.Contains(dsn, "?"):
		return dsn + "&" + params
	default:
		return dsn + "?" + params
	}
}

// startServer builds gatehouse, creates a fresh database and starts the
// server on it. On error it removes whatever it made (unless -keep).
func startServer(ctx context.Context, o options) (_ *serverProc, err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	s := &serverProc{dir: dir, logPath: filepath.Join(dir, "server.log")}
	defer func() {
		if err != nil {
			s.stop(o.keep)
		}
	}()
	bin := filepath.Join(dir, "gatehouse")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build gatehouse (run the bench from the repository root): %w", err)
	}
	switch o.db {
	case "postgres":
		if s.dsn, s.dropDB, err = createDatabase(ctx, o.adminDSN); err != nil {
			return nil, err
		}
		s.dsn = withParams(s.dsn, os.Getenv("BENCH_DSN_PARAMS")) // e.g. plan_cache_mode=auto, to compare
	case "sqlite":
		s.dsn = "sqlite:" + filepath.Join(dir, "gatehouse.db")
	default:
		return nil, fmt.Errorf("-db: want postgres or sqlite, got %q", o.db)
	}
	pub, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adm, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.url, s.admin = "http://"+pub, "http://"+adm
	s.bin = bin
	s.env = append(os.Environ(),
		"GATEHOUSE_DSN="+s.dsn, "GATEHOUSE_ISSUER="+s.url, "GATEHOUSE_SECRET="+benchSecret,
		"GATEHOUSE_PUBLIC_ADDR="+pub, "GATEHOUSE_ADMIN_ADDR="+adm, "GATEHOUSE_LOG_FORMAT=json",
		"GATEHOUSE_ACCESS_TOKEN_TTL=2h", "GATEHOUSE_PPROF=true",
		fmt.Sprintf("GATEHOUSE_ARGON2_ITERATIONS=%d", o.argonT), fmt.Sprintf("GATEHOUSE_ARGON2_MEMORY_KIB=%d", o.argonM))
	if v := os.Getenv("BENCH_SERVER_ENV"); v != "" {
		s.env = append(s.env, strings.Fields(v)...) // e.g. GOGC=200, to compare
	}
	if err := s.launch(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// launch starts the server process (its log appended to logPath) and waits
// until it is ready.
func (s *serverProc) launch(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy once started
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	s.cmd, s.pid, s.exited = cmd, cmd.Process.Pid, exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return s.waitReady(ctx)
}

// restart stops the server and starts it again on the same database and
// addresses: its pool then opens new connections.
func (s *serverProc) restart(ctx context.Context) error {
	s.interrupt()
	return s.launch(ctx)
}

// planMode is the plan_cache_mode the server last logged choosing for new
// PostgreSQL connections ("" if none).
func (s *serverProc) planMode() string {
	raw, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	mode := ""
	for _, line := range strings.Split(string(raw), "\n") {
		var rec struct {
			Mode string `json:"plan_cache_mode"`
		}
		if strings.Contains(line, "plan_cache_mode") && json.Unmarshal([]byte(line), &rec) == nil && rec.Mode != "" {
			mode = rec.Mode
		}
	}
	return mode
}

// waitReady polls /health/ready until the server answers 200, the server
// exits, ctx ends or readyTimeout passes.
func (s *serverProc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, readyTimeout, errNotReady)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.admin+"/health/ready", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("gatehouse exited before it was ready (%s); its log ends:\n%s", s.cmd.ProcessState, s.logTail(20))
		case <-ctx.Done():
			if err := context.Cause(ctx); errors.Is(err, errNotReady) {
				return fmt.Errorf("%w; its log ends:\n%s", err, s.logTail(20))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// logTail returns the last n lines of the server's log.
func (s *serverProc) logTail(n int) string {
	raw, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// stop terminates the server (interrupt, then kill after 20 s) and removes
// what it made.
func (s *serverProc) stop(keep bool) {
	s.interrupt()
	if keep {
		fmt.Fprintf(os.Stderr, "kept: database %s, server log %s\n", s.dsn, s.logPath)
		return
	}
	if s.dropDB != nil {
		s.dropDB()
	}
	_ = os.RemoveAll(s.dir)
}

// interrupt stops the server process (interrupt, then kill after 20 s).
func (s *serverProc) interrupt() {
	if s.exited == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// createDatabase creates gh_bench_<random> and returns its DSN and a func
// that drops it.
func createDatabase(ctx context.Context, admin string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at -postgres: %w", err)
	}
	defer conn.Close(context.Background())
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gh_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// procCPU is the process's user+system CPU time (/proc/<pid>/stat).
func procCPU(pid int) (time.Duration, error) {
	own, _, err := procTimes(pid)
	return own, err
}

// procTimes is the process's own CPU time and that of the children it has
// waited for (/proc/<pid>/stat).
func procTimes(pid int) (own, reaped time.Duration, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatTimes(string(raw))
}

// parseStatTimes reads a /proc/<pid>/stat line: the process's own CPU time
// (utime + stime) and that of its children it has waited for (cutime +
// cstime). The fields after the command name (which may hold spaces and
// parentheses) start after its last ")"; utime, stime, cutime and cstime
// are the 14th to 17th fields of the line, in clock ticks of USER_HZ, which
// Linux fixes at 100 for every user-space interface whatever the kernel's
// HZ (sysconf(_SC_CLK_TCK)).
func parseStatTimes(stat string) (own, reaped time.Duration, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc stat: no command name in %.80q", stat)
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 15 {
		return 0, 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 15", len(fields))
	}
	var ticks [4]int64
	for k := range ticks {
		n, err := strconv.ParseInt(fields[11+k], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks[k] = n
	}
	const userHZ = 100
	return time.Duration(ticks[0]+ticks[1]) * time.Second / userHZ,
		time.Duration(ticks[2]+ticks[3]) * time.Second / userHZ, nil
}

// procRSS returns VmRSS and VmHWM (peak) in bytes (/proc/<pid>/status).
func procRSS(pid int) (rss, hwm int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	return parseStatusRSS(string(raw))
}

// parseStatusRSS reads VmRSS and VmHWM (kB) from /proc/<pid>/status.
func parseStatusRSS(status string) (rss, hwm int64) {
	for _, line := range strings.Split(status, "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if key == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
	}
	return rss, hwm
}

// rssSampler measures the peak RSS of a process over a window. Where the
// kernel lets it (the bench's own child), it resets the process's
// high-water mark (VmHWM: "5" written to /proc/<pid>/clear_refs) and reads
// it at Stop: exact, and nothing runs meanwhile. Otherwise it samples VmRSS
// every 20 ms (reading /proc/<pid>/status costs the bench about 0.3 ms a
// time, and the sampled peak can miss a short one).
type rssSampler struct {
	pid  int
	hwm  bool // the high-water mark was reset: read it at Stop
	max  int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	if os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil {
		return &rssSampler{pid: pid, hwm: true}
	}
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _ := procRSS(pid); rss > s.max {
				s.max = rss
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop returns the peak RSS in bytes since sampleRSS.
func (s *rssSampler) Stop() int64 {
	if s.hwm {
		_, hwm := procRSS(s.pid)
		return hwm
	}
	close(s.stop)
	<-s.done
	return s.max
}

// postgresCPU sums the CPU time of every process named postgres (the
// server and its backends) that is alive now, with the time of those that
// have ended: a backend that exits (a pool closing an idle connection, an
// autovacuum worker) takes its time out of the live processes' sum, and the
// postmaster, which waits for it, adds it to its own children's time. So the
// total only grows, and a window's difference is never negative.
func postgresCPU() time.Duration {
	entries, _ := os.ReadDir("/proc")
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if own, reaped, err := procTimes(pid); err == nil {
			total += own + reaped
		}
	}
	return total
}

// machineCPU is the CPU time the whole machine has spent, on every core,
// since it booted: every process and the kernel's own work (network
// softirqs of the loopback traffic, the file system's journal threads),
// which no process's figures hold. Time stolen by the hypervisor is not the
// machine's and is left out.
func machineCPU() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	d, _ := parseMachineCPU(string(raw))
	return d
}

// parseMachineCPU reads the first line of /proc/stat ("cpu  user nice
// system idle iowait irq softirq steal …", in USER_HZ ticks of 10 ms) and
// returns user + nice + system + irq + softirq.
func parseMachineCPU(stat string) (time.Duration, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %.80q is not the cpu totals", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
