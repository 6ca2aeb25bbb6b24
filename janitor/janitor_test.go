package janitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// fakePurger holds a number of expired rows per target and deletes them as
// a store would, recording every call.
type fakePurger struct {
	mu      sync.Mutex
	rows    map[storage.PurgeTarget]int64
	calls   []call
	fail    map[storage.PurgeTarget]error
	onPurge func(call)
}

type call struct {
	target storage.PurgeTarget
	before time.Time
	batch  int
}

func (f *fakePurger) Purge(ctx context.Context, target storage.PurgeTarget, before time.Time, batch int) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	c := call{target, before, batch}
	f.calls = append(f.calls, c)
	hook := f.onPurge
	if err := f.fail[target]; err != nil {
		f.mu.Unlock()
		return 0, err
	}
	n := min(f.rows[target], int64(batch))
	f.rows[target] -= n
	f.mu.Unlock()
	if hook != nil {
		hook(c)
	}
	return n, nil
}

func (f *fakePurger) callsOf(target storage.PurgeTarget) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.target == target {
			out = append(out, c)
		}
	}
	return out
}

func TestPassBatchesEveryTargetWithItsCutoff(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	f := &fakePurger{rows: map[storage.PurgeTarget]int64{
		storage.PurgeAccessTokens: 10, storage.PurgeRefreshTokens: 3, storage.PurgeLoginSessions: 2,
		storage.PurgeRevokedLoginSessions: 4, storage.PurgeDeliveredEvents: 7,
	}}
	var logs bytes.Buffer
	j, err := janitor.New(f, janitor.Options{Batch: 3, Pause: time.Millisecond, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := j.Pass(context.Background())
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	want := map[string]int64{"oauth2_code": 0, "oauth2_access": 10, "oauth2_refresh": 3,
		"oauth2_jti": 0, "auth_flows": 0, "login_sessions": 6, "events": 7}
	if !maps.Equal(res.Deleted, want) || res.Total() != 26 || res.Duration <= 0 {
		t.Errorf("Pass = %v (total %d, %s), want %v", res.Deleted, res.Total(), res.Duration, want)
	}
	// Batches until one comes back short: 10 rows in batches of 3 are 4
	// statements; 3 rows are 2 (the second finds none).
	for target, calls := range map[storage.PurgeTarget]int{storage.PurgeAccessTokens: 4, storage.PurgeRefreshTokens: 2,
		storage.PurgeCodes: 1, storage.PurgeDeliveredEvents: 3} {
		if got := len(f.callsOf(target)); got != calls {
			t.Errorf("%s: %d statements, want %d", target, got, calls)
		}
	}
	for _, target := range storage.PurgeTargets() {
		want := now
		switch target {
		case storage.PurgeRevokedLoginSessions:
			want = now.Add(-24 * time.Hour)
		case storage.PurgeDeliveredEvents:
			want = now.Add(-30 * 24 * time.Hour)
		}
		for _, c := range f.callsOf(target) {
			if !c.before.Equal(want) || c.batch != 3 {
				t.Errorf("%s: Purge(before %s, batch %d), want before %s, batch 3", target, c.before, c.batch, want)
			}
		}
		if len(f.callsOf(target)) == 0 {
			t.Errorf("%s was not purged", target)
		}
	}

	// One line, at info, with every count under snake_case keys.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs.String())
	}
	var line struct {
		Level      string           `json:"level"`
		Msg        string           `json:"msg"`
		Deleted    map[string]int64 `json:"deleted"`
		Total      int64            `json:"total"`
		DurationMS *int64           `json:"duration_ms"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line.Level != "INFO" || line.Msg != "janitor pass" || !maps.Equal(line.Deleted, want) || line.Total != 26 || line.DurationMS == nil {
		t.Errorf("log line = %s", lines[0])
	}
}

func TestPassGoesOnAfterAFailingTarget(t *testing.T) {
	boom := errors.New("boom")
	f := &fakePurger{rows: map[storage.PurgeTarget]int64{storage.PurgeCodes: 5, storage.PurgeDeliveredEvents: 2},
		fail: map[storage.PurgeTarget]error{storage.PurgeAccessTokens: boom}}
	var logs bytes.Buffer
	j, _ := janitor.New(f, janitor.Options{Batch: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	res, err := j.Pass(context.Background())
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "oauth2_access") {
		t.Fatalf("err = %v, want boom naming oauth2_access", err)
	}
	if res.Deleted["oauth2_code"] != 5 || res.Deleted["events"] != 2 {
		t.Errorf("deleted = %v: the other targets must still be purged", res.Deleted)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "deleted.oauth2_code=5") {
		t.Errorf("log = %q", logs.String())
	}
}

func TestPassStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakePurger{rows: map[storage.PurgeTarget]int64{storage.PurgeCodes: 1_000_000, storage.PurgeAccessTokens: 10}}
	var once sync.Once
	// Cancelled during the first batch; the hour-long pause after it must
	// not hold the pass up.
	f.onPurge = func(c call) { once.Do(cancel) }
	j, _ := janitor.New(f, janitor.Options{Batch: 10, Pause: time.Hour})
	done := make(chan struct{})
	var res janitor.Result
	var err error
	go func() { res, err = j.Pass(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Pass did not stop when its ctx was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if res.Deleted["oauth2_code"] != 10 || len(f.callsOf(storage.PurgeAccessTokens)) != 0 {
		t.Errorf("deleted %v, %d calls for oauth2_access: want the first batch of 10 codes and nothing after the cancel", res.Deleted, len(f.callsOf(storage.PurgeAccessTokens)))
	}
	// Cancelled before it starts: nothing is deleted.
	res, err = j.Pass(ctx)
	if !errors.Is(err, context.Canceled) || res.Total() != 0 {
		t.Errorf("Pass on a cancelled ctx = %v, %v", res.Deleted, err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []janitor.Options{{Batch: -1}, {Batch: storage.MaxPurgeBatch + 1}, {EventRetention: -time.Hour}} {
		if _, err := janitor.New(&fakePurger{}, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestRunPassesOnScheduleUntilCancelled(t *testing.T) {
	f := &fakePurger{rows: map[storage.PurgeTarget]int64{}}
	var logs syncBuffer
	j, _ := janitor.New(f, janitor.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { j.Run(ctx, 20*time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), "msg=\"janitor pass\"") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 passes in 10s:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its ctx was cancelled")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPassOnARealDatabase runs one pass over a database seeded with expired
// and live rows in every table and two tenants, on both backends.
func TestPassOnARealDatabase(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			s := openStore(t, backend)
			f := storagetest.SeedPurge(t, s, time.Now())
			j, err := janitor.New(s, janitor.Options{Batch: 3, Pause: time.Millisecond, Now: func() time.Time { return f.Now }})
			if err != nil {
				t.Fatal(err)
			}
			res, err := j.Pass(context.Background())
			if err != nil {
				t.Fatalf("Pass: %v", err)
			}
			if !maps.Equal(res.Deleted, f.Purged) {
				t.Errorf("deleted %v, want %v", res.Deleted, f.Purged)
			}
			f.CheckPurged(t)
			res, err = j.Pass(context.Background())
			if err != nil || res.Total() != 0 {
				t.Errorf("second pass = %v, %v; want nothing deleted", res.Deleted, err)
			}
		})
	}
}

func openStore(t *testing.T, backend string) storage.Store {
	t.Helper()
	return storagetest.Open(t, backend)
}
