package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// Purger is what the janitor needs of the store.
type Purger interface {
	Purge(ctx context.Context, target storage.PurgeTarget, before time.Time, batch int) (int64, error)
}

// The defaults of Options.
const (
	DefaultBatch                   = 1000
	DefaultPause                   = 10 * time.Millisecond
	DefaultEventRetention          = 30 * 24 * time.Hour
	DefaultRevokedSessionRetention = 24 * time.Hour
)

// Options tune a Janitor; zero values take the defaults.
type Options struct {
	// Batch is the most rows one statement deletes (1..storage.MaxPurgeBatch;
	// default 1000).
	Batch int
	// Pause is the sleep between two batches of a target (default 10ms; a
	// negative value: none).
	Pause time.Duration
	// EventRetention is how long a delivered event is kept after its
	// delivery (default 30 days).
	EventRetention time.Duration
	// RevokedSessionRetention is how long a revoked browser session is kept
	// after its revocation, if it has not expired before (default 24h).
	RevokedSessionRetention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives one line per pass; discarded when nil.
	Logger *slog.Logger
}

// Janitor runs purge passes over a store.
type Janitor struct {
	p    Purger
	opts Options
}

// New returns a janitor over p; it fails on options out of range.
func New(p Purger, opts Options) (*Janitor, error) {
	if opts.Batch == 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Batch < 1 || opts.Batch > storage.MaxPurgeBatch {
		return nil, fmt.Errorf("janitor: batch must be 1..%d, got %d", storage.MaxPurgeBatch, opts.Batch)
	}
	if opts.Pause == 0 {
		opts.Pause = DefaultPause
	}
	if opts.EventRetention == 0 {
		opts.EventRetention = DefaultEventRetention
	}
	if opts.RevokedSessionRetention == 0 {
		opts.RevokedSessionRetention = DefaultRevokedSessionRetention
	}
	if opts.EventRetention < 0 || opts.RevokedSessionRetention < 0 {
		return nil, errors.New("janitor: retentions must not be negative")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Janitor{p: p, opts: opts}, nil
}

// Result is what one pass did.
type Result struct {
	// Deleted is the number of rows deleted per table, for every table of
	// storage.PurgeTables (zeros included).
	Deleted map[string]int64
	// Duration is how long the pass took.
	Duration time.Duration
}

// Total is the number of rows the pass deleted.
func (r Result) Total() int64 {
	var n int64
	for _, v := range r.Deleted {
		n += v
	}
	return n
}

// Cutoff is the `before` of target for a pass starting at now: rows older
// than it are deleted.
func (j *Janitor) Cutoff(target storage.PurgeTarget, now time.Time) time.Time {
	switch target {
	case storage.PurgeRevokedLoginSessions:
		return now.Add(-j.opts.RevokedSessionRetention)
	case storage.PurgeDeliveredEvents:
		return now.Add(-j.opts.EventRetention)
	}
	return now
}

// Pass runs every target once, to the end of what has expired when it
// starts. A target that fails is reported in the error and the pass goes on
// with the next one; a cancelled ctx stops it at once. The counts of what
// was deleted are returned in every case, and logged in one line.
func (j *Janitor) Pass(ctx context.Context) (Result, error) {
	start := time.Now()
	now := j.opts.Now()
	res := Result{Deleted: map[string]int64{}}
	for _, table := range storage.PurgeTables() {
		res.Deleted[table] = 0
	}
	var errs []error
	for _, target := range storage.PurgeTargets() {
		n, err := j.purge(ctx, target, j.Cutoff(target, now))
		res.Deleted[target.Table()] += n
		if err != nil {
			errs = append(errs, fmt.Errorf("purge %s: %w", target, err))
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	res.Duration = time.Since(start)
	err := errors.Join(errs...)
	j.log(ctx, res, err)
	return res, err
}

// purge deletes target's rows older than before, batch after batch, until a
// batch comes back short.
func (j *Janitor) purge(ctx context.Context, target storage.PurgeTarget, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := j.p.Purge(ctx, target, before, j.opts.Batch)
		total += n
		if err != nil || n < int64(j.opts.Batch) {
			return total, err
		}
		if j.opts.Pause > 0 {
			t := time.NewTimer(j.opts.Pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, nil
			case <-t.C:
			}
		}
	}
}

func (j *Janitor) log(ctx context.Context, res Result, err error) {
	counts := make([]any, 0, len(res.Deleted))
	for _, table := range storage.PurgeTables() {
		counts = append(counts, slog.Int64(table, res.Deleted[table]))
	}
	attrs := []any{slog.Group("deleted", counts...), "total", res.Total(), "duration_ms", res.Duration.Milliseconds()}
	switch {
	case err == nil:
		j.opts.Logger.InfoContext(ctx, "janitor pass", attrs...)
	case ctx.Err() != nil:
		j.opts.Logger.InfoContext(ctx, "janitor pass stopped", append(attrs, "err", err)...)
	default:
		j.opts.Logger.WarnContext(ctx, "janitor pass failed", append(attrs, "err", err)...)
	}
}

// Run runs a pass every interval until ctx ends. The first pass runs one
// interval after Run starts (a replica that just started leaves the database
// to its start-up and its first requests). Passes never overlap: a pass
// longer than the interval delays the next one.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_, _ = j.Pass(ctx) // logged by Pass; the next pass tries again
	}
}
