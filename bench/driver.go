package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// worker does one request (or one flow) and says whether it failed.
type worker func(ctx context.Context) error

// result is one scenario's figures.
type result struct {
	Scenario    string  `json:"scenario"`
	Conns       int     `json:"conns"`
	Requests    int     `json:"requests"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	CPUmsPerReq float64 `json:"server_cpu_ms_per_request"`
	DBCPUms     float64 `json:"postgres_cpu_ms_per_request,omitempty"`
	BenchCPUms  float64 `json:"bench_cpu_ms_per_request,omitempty"`
	// MachineCPUms is every core's busy time (all processes and the
	// kernel) per request: what the three above leave out is the kernel's.
	MachineCPUms float64 `json:"machine_cpu_ms_per_request,omitempty"`
	PeakRSSMB    float64 `json:"server_peak_rss_mb"`
	Note         string  `json:"note,omitempty"`
	Runs         int     `json:"runs,omitempty"`
	MinRPS       float64 `json:"min_rps,omitempty"`
	MaxRPS       float64 `json:"max_rps,omitempty"`
	HTTPRequests int     `json:"http_requests_per_iteration,omitempty"`
}

// drive runs n closed-loop workers: warm-up, then the measured window.
// pid, when positive, is the server process whose CPU and RSS it reads;
// atMeasure, when set, runs as the measured window starts.
func drive(ctx context.Context, name string, n int, warmup, duration time.Duration, pid int, newWorker func(i int) (worker, error), atMeasure func()) (result, error) {
	workers := make([]worker, n)
	for i := range n {
		w, err := newWorker(i)
		if err != nil {
			return result{}, fmt.Errorf("%s: set up connection %d: %w", name, i, err)
		}
		workers[i] = w
	}
	start := time.Now()
	measureFrom, measureTo := start.Add(warmup), start.Add(warmup+duration)
	lat := make([][]time.Duration, n)
	errs := make([]int, n)
	firstErr := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			lat[i] = make([]time.Duration, 0, 1<<14)
			for {
				t0 := time.Now()
				if !t0.Before(measureTo) || ctx.Err() != nil {
					return
				}
				err := workers[i](ctx)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					errs[i]++
					if firstErr[i] == nil {
						firstErr[i] = err
					}
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	var cpu0, cpu1, db0, db1, self0, self1, all0, all1 time.Duration
	var sampler *rssSampler
	select {
	case <-time.After(time.Until(measureFrom)):
	case <-ctx.Done():
	}
	if atMeasure != nil {
		atMeasure()
	}
	if pid > 0 {
		cpu0, _ = procCPU(pid)
		sampler = sampleRSS(pid)
	}
	db0, self0, all0 = postgresCPU(), selfCPU(), machineCPU()
	wg.Wait()
	db1, self1, all1 = postgresCPU(), selfCPU(), machineCPU()
	elapsed := time.Since(measureFrom)
	r := result{Scenario: name, Conns: n, Seconds: elapsed.Seconds()}
	if pid > 0 {
		cpu1, _ = procCPU(pid)
		r.PeakRSSMB = float64(sampler.Stop()) / (1 << 20)
	}
	var all []time.Duration
	for i := range n {
		all = append(all, lat[i]...)
		r.Errors += errs[i]
		if r.FirstError == "" && firstErr[i] != nil {
			r.FirstError = firstErr[i].Error()
		}
	}
	slices.Sort(all)
	r.Requests = len(all)
	if r.Requests > 0 {
		r.RPS = float64(r.Requests) / elapsed.Seconds()
		pct := func(p float64) float64 {
			return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
		}
		r.P50ms, r.P90ms, r.P99ms = pct(0.50), pct(0.90), pct(0.99)
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(r.Requests+r.Errors) }
		if pid > 0 {
			r.CPUmsPerReq = per(cpu1 - cpu0)
		}
		r.DBCPUms, r.BenchCPUms, r.MachineCPUms = per(db1-db0), per(self1-self0), per(all1-all0)
	}
	return r, ctx.Err()
}

func selfCPU() time.Duration {
	d, _ := procCPU(os.Getpid())
	return d
}
