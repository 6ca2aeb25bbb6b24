package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"
)

// startProfile records a CPU profile of the server (admin /debug/pprof,
// served when GATEHOUSE_PPROF=true) for the scenario's measured window.
func (b *bench) startProfile(name string) func() {
	stopSelf := b.profileSelf(name)
	done := make(chan struct{})
	go func() {
		defer close(done)
		secs := int(b.o.duration.Seconds()) - 1
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", b.srv.admin, max(secs, 1)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "profile: status", resp.StatusCode, "(start the server with GATEHOUSE_PPROF=true)")
			return
		}
		path := filepath.Join(b.o.out, name+".cpu.prof")
		if err := os.MkdirAll(b.o.out, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
		fmt.Fprintln(os.Stderr, "wrote", path)
	}()
	return func() { <-done; stopSelf() }
}

// profileSelf records the bench process's own CPU profile for the same
// window (<scenario>.bench.cpu.prof): the load generator shares the cores,
// so what it spends is CPU the server does not get.
func (b *bench) profileSelf(name string) func() {
	path := filepath.Join(b.o.out, name+".bench.cpu.prof")
	if err := os.MkdirAll(b.o.out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Fprintln(os.Stderr, "wrote", path)
	}
}

// burst fires n password sign-ins at once and reports how they ended and
// the server's peak RSS: hashing runs under a concurrency limit, so the
// waiting ones queue or get 429, never 500, and memory stays bounded.
func (b *bench) burst(ctx context.Context, n int) (map[string]any, error) {
	sampler := sampleRSS(b.srv.pid)
	statuses := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	conns := &connSet{}
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			c := conns.open(b.srv.url)
			<-start
			_, err := c.login(ctx, b.web, b.users[i%len(b.users)], benchPassword, nil, b.srv.url)
			key := outcome(err)
			mu.Lock()
			statuses[key]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	conns.close()
	peak := sampler.Stop()
	_, hwm := procRSS(b.srv.pid)
	out := map[string]any{"sign_ins": n, "outcomes": statuses, "seconds": time.Since(t0).Seconds(),
		"peak_rss_mb": float64(peak) / (1 << 20), "vm_hwm_mb": float64(hwm) / (1 << 20)}
	fmt.Fprintf(os.Stderr, "burst of %d sign-ins: %v, peak RSS %.0f MB (VmHWM %.0f MB)\n", n, statuses, float64(peak)/(1<<20), float64(hwm)/(1<<20))
	return out, nil
}

// outcome is how a sign-in ended, grouped: "ok", the step and status of an
// unexpected answer ("login: status 429"), or the start of another error.
func outcome(err error) string {
	var se *statusError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return fmt.Sprintf("%s: status %d", se.step, se.code)
	}
	key := err.Error()
	if len(key) > 60 {
		key = key[:60]
	}
	return key
}
