package pages

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// The pages.
const (
	Login     = "login"
	Consent   = "consent"
	Error     = "error"
	Logout    = "logout"
	LoggedOut = "logged_out"
)

var titles = map[string]string{
	Login: "Sign in", Consent: "Allow access?", Error: "Error", Logout: "Sign out", LoggedOut: "Signed out",
}

// Renderer renders the pages.
type Renderer struct {
	pages map[string]*template.Template
	log   *slog.Logger
	https bool
}

// New parses the templates; it fails only on a broken template.
func New(log *slog.Logger, https bool) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, log: log, https: https}
	for name := range titles {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		r.pages[name] = t
	}
	return r, nil
}

// View is what every template receives.
type View struct {
	Name      string
	Title     string
	Base      string // the tenant's path prefix, for links and form actions
	CSRF      string
	RequestID string
	Error     *catalog.Error
	Data      any
}

// Render writes page name with data. When err is not nil the page shows its
// message and carries its code in data-error-code, with the code's status;
// the cause is logged once here.
func (p *Renderer) Render(w http.ResponseWriter, r *http.Request, name, csrf string, data any, err error) {
	tid, _ := tenant.From(r.Context())
	v := View{Name: name, Title: titles[name], Base: tenant.PathPrefix(tid), CSRF: csrf,
		RequestID: web.RequestID(r.Context()), Data: data}
	status := http.StatusOK
	if err != nil {
		v.Error = web.LogError(r.Context(), p.log, err)
		status = v.Error.Status
		if v.Error.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(v.Error.RetryAfter))
		}
	}
	var buf bytes.Buffer
	if terr := p.pages[name].ExecuteTemplate(&buf, "layout", v); terr != nil {
		p.log.ErrorContext(r.Context(), "render page", "page", name, "err", terr)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	web.PageSecurityHeaders(h, p.https)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// RenderError renders the error page for err.
func (p *Renderer) RenderError(w http.ResponseWriter, r *http.Request, err error, hint string) {
	var data any
	if hint != "" {
		data = hint
	}
	p.Render(w, r, Error, "", data, err)
}

// Static serves the assets under /static/.
// Only the files themselves: a directory, a missing file or a bad name is
// the catalog's 404 (no listing, no plain-text error).
func Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			catalog.WriteJSON(w, catalog.NotFound, web.RequestID(r.Context()))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}
