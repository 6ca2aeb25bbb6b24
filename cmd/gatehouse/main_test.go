package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

// gatehouse runs the CLI in-process with the given environment and returns
// its exit code, stdout and stderr.
func gatehouse(t *testing.T, ctx context.Context, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, lookup: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}}
	code := run(ctx, args, e)
	return code, out.String(), errb.String()
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {}, {"serve", "--help"}, {"migrate", "--help"}, {"migrate", "up", "-h"}, {"version", "--help"}, {"help", "migrate"}} {
		code, out, errs := gatehouse(t, context.Background(), nil, args...)
		if code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("gatehouse %q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, _, errs := gatehouse(t, context.Background(), nil, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errs)
	}
	if code, _, _ := gatehouse(t, context.Background(), nil, "serve", "--nope"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	code, out, _ := gatehouse(t, context.Background(), nil, "version")
	if code != 0 || !strings.HasPrefix(out, "gatehouse ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestBadConfigIsOneLine: a bad configuration is one line on stderr naming
// the key, exit 1, never a stack trace.
func TestBadConfigIsOneLine(t *testing.T) {
	valid := map[string]string{"GATEHOUSE_DSN": "memory", "GATEHOUSE_ISSUER": "https://id.example.com", "GATEHOUSE_SECRET": testSecret}
	tests := []struct {
		name   string
		change map[string]string
		args   []string
		want   string
	}{
		{"unknown DSN scheme", map[string]string{"GATEHOUSE_DSN": "mysql://db/x"}, []string{"serve"}, "GATEHOUSE_DSN: unknown scheme"},
		{"short secret", map[string]string{"GATEHOUSE_SECRET": "too-short"}, []string{"serve"}, "GATEHOUSE_SECRET"},
		{"http issuer in production", map[string]string{"GATEHOUSE_ISSUER": "http://id.example.com"}, []string{"serve"}, "GATEHOUSE_ISSUER: http:// is allowed only on loopback"},
		{"unreachable database", map[string]string{"GATEHOUSE_DSN": "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, []string{"migrate", "status"}, "GATEHOUSE_DSN: database unreachable"},
		{"missing SQLite directory", map[string]string{"GATEHOUSE_DSN": "sqlite:/nonexistent/dir/g.db"}, []string{"migrate", "up"}, "GATEHOUSE_DSN"},
		{"bad env value", map[string]string{"GATEHOUSE_AUTO_MIGRATE": "perhaps"}, []string{"serve"}, "GATEHOUSE_AUTO_MIGRATE: not a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range valid {
				vars[k] = v
			}
			for k, v := range tc.change {
				vars[k] = v
			}
			code, _, errs := gatehouse(t, context.Background(), vars, tc.args...)
			if code != 1 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, errs, tc.want)
			}
			if strings.Count(strings.TrimSpace(errs), "\n") != 0 || strings.Contains(errs, "goroutine") {
				t.Fatalf("stderr is not one line: %q", errs)
			}
		})
	}
}

func TestMigrateUpAndStatus(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		vars := map[string]string{"GATEHOUSE_DSN": servertest.DSN(t, backend)}
		code, out, errs := gatehouse(t, context.Background(), vars, "migrate", "status")
		if code != 0 || !strings.Contains(out, "00001_foundation.sql") || !strings.Contains(out, "pending") {
			t.Fatalf("status before up: %d %q %q", code, out, errs)
		}
		code, out, errs = gatehouse(t, context.Background(), vars, "migrate", "up")
		if code != 0 || !strings.Contains(out, "applied 1 00001_foundation.sql") {
			t.Fatalf("up: %d %q %q", code, out, errs)
		}
		code, out, _ = gatehouse(t, context.Background(), vars, "migrate", "status")
		if code != 0 || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
			t.Fatalf("status after up: %d %q", code, out)
		}
		if code, out, _ = gatehouse(t, context.Background(), vars, "migrate", "up"); code != 0 || !strings.Contains(out, "no pending migrations") {
			t.Fatalf("second up: %d %q", code, out)
		}
	})
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeDev runs `gatehouse serve --dev` in an empty directory, as a new
// user would, and waits for /health/ready = 200 on the SQLite it created.
func TestServeDev(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	admin := freeAddr(t)
	vars := map[string]string{"GATEHOUSE_PUBLIC_ADDR": freeAddr(t), "GATEHOUSE_ADMIN_ADDR": admin}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := gatehouse(t, ctx, vars, "serve", "--dev")
		done <- result{code, out, errs}
	}()
	ready := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + admin + "/health/ready"); err == nil {
			ready = resp.StatusCode == 200
			resp.Body.Close()
		}
	}
	cancel()
	res := <-done
	if !ready {
		t.Fatalf("never ready; stderr:\n%s", res.err)
	}
	if res.code != 0 {
		t.Fatalf("serve --dev exit %d: %s", res.code, res.err)
	}
	for _, want := range []string{"DEVELOPMENT mode", "NOT for production", "sqlite:gatehouse.db", "gatehouse.secret"} {
		if !strings.Contains(res.err, want) {
			t.Errorf("banner lacks %q:\n%s", want, res.err)
		}
	}
	for _, f := range []string{"gatehouse.db", "gatehouse.secret"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not created: %v", f, err)
		}
	}
}
