package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/storage"
)

// documented reads the code table of docs/errors.md.
func documented(t *testing.T) map[Code]int {
	t.Helper()
	raw, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| ([A-Z_]+) \| (\d{3}) \|`).FindAllStringSubmatch(string(raw), -1)
	out := map[Code]int{}
	for _, r := range rows {
		status, _ := strconv.Atoi(r[2])
		if prev, dup := out[Code(r[1])]; dup {
			t.Errorf("docs/errors.md lists %s twice (%d, %d)", r[1], prev, status)
		}
		out[Code(r[1])] = status
	}
	return out
}

// TestCatalogMatchesDocs: every code has exactly one status, the same in the
// code and in docs/errors.md, and nothing is in one but not the other.
func TestCatalogMatchesDocs(t *testing.T) {
	docs := documented(t)
	seen := map[Code]bool{}
	for _, e := range All() {
		if seen[e.Code] {
			t.Errorf("%s defined twice", e.Code)
		}
		seen[e.Code] = true
		if st, ok := docs[e.Code]; !ok {
			t.Errorf("%s is not in docs/errors.md", e.Code)
		} else if st != e.Status {
			t.Errorf("%s: status %d in code, %d in docs/errors.md", e.Code, e.Status, st)
		}
	}
	for c := range docs {
		if !seen[c] {
			t.Errorf("docs/errors.md lists %s, the catalog does not define it", c)
		}
	}
	if len(docs) < 40 {
		t.Fatalf("only %d codes parsed from docs/errors.md", len(docs))
	}
}

// TestJSONMappingReachesEveryCode: the JSON surface writes every code with
// its status, the envelope shape and no-store.
func TestJSONMappingReachesEveryCode(t *testing.T) {
	for _, e := range All() {
		rec := httptest.NewRecorder()
		WriteJSON(rec, fmt.Errorf("wrapped: %w", e.WithDetail("field", "x")), "req-1")
		if rec.Code != e.Status {
			t.Errorf("%s: status %d, want %d", e.Code, rec.Code, e.Status)
		}
		var env Envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code != e.Code || env.Error.Message == "" {
			t.Errorf("%s: body %s (%v)", e.Code, rec.Body, err)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", e.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

func TestResolve(t *testing.T) {
	if got := Resolve(errors.New("driver exploded")); got.Code != Internal.Code {
		t.Errorf("unknown error → %s", got.Code)
	}
	down := Resolve(fmt.Errorf("query: %w", storage.ErrUnavailable))
	if down.Code != ServiceUnavailable.Code || down.RetryAfter == 0 || !errors.Is(down, storage.ErrUnavailable) {
		t.Errorf("storage outage → %+v", down)
	}
	rec := httptest.NewRecorder()
	WriteJSON(rec, errors.New("secret detail"), "req-9")
	var env Envelope
	_ = json.Unmarshal(rec.Body.Bytes(), &env)
	if env.Error.Details["request_id"] != "req-9" || env.Error.Message != Internal.Message {
		t.Errorf("internal envelope = %+v", env)
	}
	if e := InvalidCredentials.WithDetail("k", 1); InvalidCredentials.Details != nil || !errors.Is(e, InvalidCredentials) {
		t.Error("WithDetail mutated the sentinel or lost its identity")
	}
	if errors.Is(InvalidCredentials, AccountLocked) {
		t.Error("different codes compare equal")
	}
}
