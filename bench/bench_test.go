package main

import (
	"context"
	"errors"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ")" of its own: the fields are
	// counted from the last ")".
	line := "4242 (gate house) (x)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 12345 1000 200 18446744073709551615\n"
	got, reaped, err := parseStatTimes(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want || reaped != 0 { // (250 + 75) ticks of 10 ms
		t.Errorf("parseStatTimes = %v, %v; want %v, 0", got, reaped, want)
	}
	for _, bad := range []string{"", "4242 no parenthesis", "4242 (short) S 1 2 3",
		"4242 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 75 0", "4242 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 75 0 0"} {
		if _, _, err := parseStatTimes(bad); err == nil {
			t.Errorf("parseStatTimes(%q): no error", bad)
		}
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU(self): %v", err)
	}
	// The postmaster's line: its own time and that of the backends it has
	// waited for, which postgresCPU adds so an exiting backend's time is
	// not lost from the sum.
	own, reaped, err := parseStatTimes("100 (postgres) S 1 100 100 0 -1 4194560 1 0 0 0 7 3 420 80 20 0 1 0 5 1000 200\n")
	if err != nil {
		t.Fatal(err)
	}
	if own != 100*time.Millisecond || reaped != 5*time.Second {
		t.Errorf("parseStatTimes = %v, %v; want 100ms, 5s", own, reaped)
	}
}

func TestParseMachineCPU(t *testing.T) {
	stat := "cpu  100 20 30 5000 40 1 2 7 0 0\ncpu0 50 10 15 2500 20 1 1 3 0 0\n"
	got, err := parseMachineCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1530 * time.Millisecond; got != want { // user+nice+system+irq+softirq = 153 ticks; idle, iowait, steal left out
		t.Errorf("parseMachineCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu  1 2 3", "cpu  1 2 x 4 5 6 7 8"} {
		if _, err := parseMachineCPU(bad); err == nil {
			t.Errorf("parseMachineCPU(%q): no error", bad)
		}
	}
	if machineCPU() <= 0 {
		t.Error("machineCPU() read nothing from /proc/stat")
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := "Name:\tgatehouse\nVmPeak:\t  900000 kB\nVmHWM:\t  115000 kB\nVmRSS:\t   30720 kB\nVmRSSx:\t1 kB\nThreads:\t9\n"
	rss, hwm := parseStatusRSS(status)
	if rss != 30720*1024 || hwm != 115000*1024 {
		t.Errorf("parseStatusRSS = %d, %d", rss, hwm)
	}
	if rss, hwm := parseStatusRSS("VmRSS: lots\nVmHWM:\n"); rss != 0 || hwm != 0 {
		t.Errorf("malformed status: %d, %d, want 0, 0", rss, hwm)
	}
}

func TestMedianOf(t *testing.T) {
	runs := []result{{Scenario: "a", RPS: 30}, {Scenario: "b", RPS: 10}, {Scenario: "c", RPS: 20}}
	m := medianOf(runs)
	if m.Scenario != "c" || m.Runs != 3 || m.MinRPS != 10 || m.MaxRPS != 30 {
		t.Errorf("medianOf = %+v", m)
	}
	if runs[0].Scenario != "a" {
		t.Errorf("medianOf reordered its argument")
	}
	if one := medianOf(runs[:1]); one.Runs != 0 || one.MinRPS != 0 {
		t.Errorf("one run reports a spread: %+v", one)
	}
}

// TestDrive runs the closed loop with workers that fail every third call:
// failures are counted and not timed, the first is kept, the warm-up is
// not counted, and the percentiles come out ordered.
func TestDrive(t *testing.T) {
	var calls atomic.Int64
	newWorker := func(int) (worker, error) {
		return func(context.Context) error {
			n := calls.Add(1)
			time.Sleep(time.Millisecond)
			if n%3 == 0 {
				return errors.New("boom " + strings.Repeat("!", int(n%2)))
			}
			return nil
		}, nil
	}
	atMeasure := false
	r, err := drive(context.Background(), "fake", 2, 30*time.Millisecond, 150*time.Millisecond, 0, newWorker,
		func() { atMeasure = true })
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Errors == 0 || !strings.HasPrefix(r.FirstError, "boom") {
		t.Fatalf("drive = %+v", r)
	}
	// Each worker's first call starts in the warm-up, which is not counted.
	if total := int64(r.Requests + r.Errors); total > calls.Load()-2 {
		t.Errorf("%d requests + %d errors of %d calls: the warm-up was counted", r.Requests, r.Errors, calls.Load())
	}
	if !atMeasure {
		t.Errorf("atMeasure was not called")
	}
	if !(r.P50ms <= r.P90ms && r.P90ms <= r.P99ms) || r.P50ms <= 0 || r.RPS <= 0 {
		t.Errorf("percentiles or rate out of order: %+v", r)
	}
	if r.CPUmsPerReq != 0 || r.PeakRSSMB != 0 {
		t.Errorf("no server pid, yet server CPU or RSS: %+v", r)
	}
	// A worker that cannot be set up fails the scenario.
	if _, err := drive(context.Background(), "fake", 1, 0, time.Millisecond, 0,
		func(int) (worker, error) { return nil, errors.New("no connection") }, nil); err == nil {
		t.Errorf("drive with a failing set-up: no error")
	}
}

// TestSampleRSS: the peak covers memory touched and freed inside the window.
func TestSampleRSS(t *testing.T) {
	rss0, _ := procRSS(os.Getpid())
	s := sampleRSS(os.Getpid())
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	runtime.KeepAlive(buf)
	buf = nil
	peak := s.Stop()
	if peak < rss0+60<<20 {
		t.Fatalf("peak RSS %d MB, want at least %d MB (the 64 MB touched on top of %d MB)", peak>>20, (rss0+60<<20)>>20, rss0>>20)
	}
	t.Logf("RSS before %d MB, peak %d MB, high-water mark reset: %v", rss0>>20, peak>>20, s.hwm)
}

func TestBracketedRatios(t *testing.T) {
	// A baseline that drifts from 60 to 40 over three rounds while login
	// stays at 85 % of it: every round reads 85 %, where comparing with the
	// run before alone would read 77-79 %.
	hashes := []float64{60, 53.333, 46.667, 40}
	logins := []float64{0.85 * 56.667, 0.85 * 50, 0.85 * 43.333}
	r := bracketedRatios(hashes, logins, "m")
	if len(r.Rounds) != 3 {
		t.Fatalf("rounds = %v", r.Rounds)
	}
	for _, x := range r.Rounds {
		if x < 0.8499 || x > 0.8501 {
			t.Errorf("round ratio %.4f, want 0.85", x)
		}
	}
	if r.Median < 0.8499 || r.Median > 0.8501 {
		t.Errorf("median %.4f", r.Median)
	}
	if even := bracketedRatios([]float64{10, 10, 10}, []float64{8, 9}, "m"); even.Median < 0.8499 || even.Median > 0.8501 {
		t.Errorf("median of two rounds = %v, want their mean 0.85", even.Median)
	}
	if none := bracketedRatios([]float64{10}, nil, "m"); len(none.Rounds) != 0 || none.Median != 0 {
		t.Errorf("no login run: %+v", none)
	}
}

// TestAlternateRuns: base first and last, measured between, each round told
// of its brackets; an error stops the runs.
func TestAlternateRuns(t *testing.T) {
	var order []string
	n := 0.0
	run := func(kind string) func() (result, error) {
		return func() (result, error) {
			n++
			order = append(order, kind)
			return result{RPS: n}, nil
		}
	}
	var rounds [][3]float64
	ms, bs, err := alternateRuns(2, run("m"), run("b"), func(m, before, after result) {
		rounds = append(rounds, [3]float64{m.RPS, before.RPS, after.RPS})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ""); got != "bmbmb" {
		t.Errorf("order %q, want bmbmb", got)
	}
	if len(ms) != 2 || len(bs) != 3 || ms[0].RPS != 2 || bs[2].RPS != 5 {
		t.Errorf("measured %v, base %v", ms, bs)
	}
	if want := [][3]float64{{2, 1, 3}, {4, 3, 5}}; !reflect.DeepEqual(rounds, want) {
		t.Errorf("rounds %v, want %v", rounds, want)
	}
	if _, _, err := alternateRuns(0, func() (result, error) { return result{}, errors.New("down") }, run("b"), nil); err == nil {
		t.Error("a failing measured run: no error")
	}
}
