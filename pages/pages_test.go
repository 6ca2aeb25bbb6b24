package pages

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/tenant"
)

// TestHTMLMappingReachesEveryCode: every catalog code renders with its
// status, its message and its data-error-code, with no-store and the page
// security headers.
func TestHTMLMappingReachesEveryCode(t *testing.T) {
	p, err := New(slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range catalog.All() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/login", nil).WithContext(tenant.With(context.Background(), "acme"))
		p.Render(rec, req, Login, "csrf", map[string]string{"Flow": "f"}, fmt.Errorf("wrapped: %w", e))
		body := rec.Body.String()
		if rec.Code != e.Status || !strings.Contains(body, `data-error-code="`+string(e.Code)+`"`) {
			t.Errorf("%s: status %d, body lacks its data-error-code", e.Code, rec.Code)
		}
		if !strings.Contains(body, `action="/t/acme/login"`) {
			t.Errorf("%s: form action lacks the tenant prefix", e.Code)
		}
		h := rec.Header()
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || h.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: headers %v", e.Code, h)
		}
	}
	rec := httptest.NewRecorder()
	p.RenderError(rec, httptest.NewRequest("GET", "/", nil), fmt.Errorf("driver exploded: secret detail"), "")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `data-error-code="INTERNAL"`) || strings.Contains(rec.Body.String(), "secret detail") {
		t.Errorf("unknown error page: %d %s", rec.Code, rec.Body)
	}
}
