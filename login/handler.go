package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/flow"
	"github.com/gatehouse/gatehouse/pages"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
)

// Password-only sign-in: amr "pwd" (RFC 8176) and acr "1" (one factor).
var passwordAMR = []string{"pwd"}

const passwordACR = "1"

// Handler serves the login step of a pending authorization.
type Handler struct {
	Service  *Service
	Sessions *Sessions
	Flows    *flow.Service
	Pages    *pages.Renderer
	Cookies  web.Cookies
	CSRF     web.CSRF
	// Continue (required; the provider's ContinueSignedIn) moves a flow on
	// from where it is: after a sign-in it gets the flow moved on in memory,
	// unsaved, and the account, and saves the flow with its next step; for a
	// flow already past this step it gets the flow as loaded and nil.
	Continue func(http.ResponseWriter, *http.Request, *flow.Flow, *storage.User)
}

// Register mounts the login page on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", h.show)
	mux.HandleFunc("POST /login", h.submit)
}

type loginView struct {
	Flow       string
	ClientName string
	Email      string
}

// ShowPage returns what renders the sign-in page of a flow in state Login
// for the browser whose device id is device. The provider answers an
// authorization request that needs a sign-in with it directly (the page in
// the answer, not a redirect to GET /login: one round trip fewer for every
// user), and GET /login shows a stored flow with it.
func ShowPage(rd *pages.Renderer, csrf web.CSRF) func(w http.ResponseWriter, r *http.Request, f *flow.Flow, device string) {
	return func(w http.ResponseWriter, r *http.Request, f *flow.Flow, device string) {
		rd.Render(w, r, pages.Login, csrf.Token(device, "login:"+f.ID),
			loginView{Flow: f.ID, ClientName: f.ClientName, Email: f.LoginHint}, nil)
	}
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	device := h.Cookies.ExistingDevice(r)
	f, err := h.Flows.Load(r.Context(), r.URL.Query().Get("flow"), device)
	if err != nil {
		h.Pages.RenderError(w, r, err, "")
		return
	}
	if f.State != flow.Login {
		h.Continue(w, r, f, nil)
		return
	}
	ShowPage(h.Pages, h.CSRF)(w, r, f, device)
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.Pages.RenderError(w, r, catalog.InvalidRequest.Wrap(err), "")
		return
	}
	device := h.Cookies.ExistingDevice(r)
	f, err := h.Flows.Load(ctx, r.PostForm.Get("flow"), device)
	if err != nil {
		h.Pages.RenderError(w, r, err, "")
		return
	}
	csrf := h.CSRF.Token(device, "login:"+f.ID)
	view := loginView{Flow: f.ID, ClientName: f.ClientName, Email: r.PostForm.Get("email")}
	if !h.CSRF.Check(device, "login:"+f.ID, r.PostForm.Get("csrf_token")) {
		h.Pages.Render(w, r, pages.Login, csrf, view, catalog.InvalidRequest.WithDetail("field", "csrf_token").
			WithMessage("The form expired. Please try again."))
		return
	}
	if f.State != flow.Login {
		h.Continue(w, r, f, nil)
		return
	}
	u, err := h.Service.Authenticate(ctx, r.PostForm.Get("email"), r.PostForm.Get("password"))
	if err != nil {
		h.Pages.Render(w, r, pages.Login, csrf, view, err)
		return
	}
	h.signIn(w, r, f, u, passwordAMR, passwordACR, func(err error) {
		h.Pages.Render(w, r, pages.Login, csrf, view, err)
	})
}

// signIn starts the browser session for u and moves the flow on, in one
// transaction: the session and its event commit with what Continue writes
// next (the flow's consent step, or the flow done with its code), one commit
// instead of two (on PostgreSQL one WAL flush fewer per sign-in). What
// Continue answers is held until that commit: the code's redirect never
// leaves before its session is durable, and the session cookie is set only
// for a session that was stored. failed answers when the transaction fails
// before Continue answered anything.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, f *flow.Flow, u storage.User, amr []string, acr string, failed func(error)) {
	var held *web.Held
	var token string
	var invalid error
	err := h.Service.Store.InTx(r.Context(), func(ctx context.Context) error {
		held = web.Hold(w) // anew on a retry
		ls, t, err := h.Sessions.Begin(ctx, r, u, amr, acr)
		if err != nil {
			return err
		}
		moved := *f // a retry starts again from the flow as loaded
		if err := moved.Authenticated(u.ID, u.Email, ls.ID, ls.AuthTime, ls.AMR, ls.ACR); err != nil {
			invalid = flow.ErrInvalid.Wrap(err)
			return invalid
		}
		token = t
		h.Continue(held, r.WithContext(ctx), &moved, &u)
		return nil
	})
	switch {
	case err == nil:
		h.Sessions.SetCookie(r.Context(), held, token)
		held.Send(w)
	case errors.Is(err, storage.ErrRolledBack) && held.Status() != 0:
		// Continue failed inside the transaction and answered with its
		// error (a flow another request finished, an outage): that answer
		// stands, without the session, which was not stored.
		held.Send(w)
	case invalid != nil:
		h.Pages.RenderError(w, r, invalid, "")
	default:
		failed(err)
	}
}
