package consent

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/flow"
	"github.com/gatehouse/gatehouse/pages"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
)

// Handler serves the consent page of a pending authorization.
type Handler struct {
	Service *Service
	Flows   *flow.Service
	Pages   *pages.Renderer
	Cookies web.Cookies
	CSRF    web.CSRF
	// Continue (required; the provider's Continue) moves a flow on from
	// where it is, saving it with its next step: after a decision it gets
	// the flow moved on in memory, unsaved; for a flow not at this step, the
	// flow as loaded.
	Continue func(http.ResponseWriter, *http.Request, *flow.Flow)
}

// Register mounts the consent page on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /consent", h.show)
	mux.HandleFunc("POST /consent", h.submit)
}

type scopeView struct{ Name, Description string }

type consentView struct {
	Flow       string
	ClientName string
	Account    string
	Scopes     []scopeView
}

func view(f *flow.Flow) consentView {
	v := consentView{Flow: f.ID, ClientName: f.ClientName, Account: f.AccountName}
	for _, s := range f.Scopes {
		v.Scopes = append(v.Scopes, scopeView{Name: s, Description: Describe(s)})
	}
	return v
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	device := h.Cookies.ExistingDevice(r)
	f, err := h.Flows.Load(r.Context(), r.URL.Query().Get("flow"), device)
	if err != nil {
		h.Pages.RenderError(w, r, err, "")
		return
	}
	if f.State != flow.Consent {
		h.Continue(w, r, f)
		return
	}
	h.Pages.Render(w, r, pages.Consent, h.CSRF.Token(device, "consent:"+f.ID), view(f), nil)
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
	csrf := h.CSRF.Token(device, "consent:"+f.ID)
	if !h.CSRF.Check(device, "consent:"+f.ID, r.PostForm.Get("csrf_token")) {
		h.Pages.Render(w, r, pages.Consent, csrf, view(f), catalog.InvalidRequest.WithDetail("field", "csrf_token").
			WithMessage("The form expired. Please try again."))
		return
	}
	if f.State != flow.Consent {
		h.Continue(w, r, f)
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		if err := h.Service.Remember(ctx, f.UserID, f.ClientID, f.Scopes, false); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				// The grant's client or account was deleted since the page
				// was shown: nothing to consent to any more (as deny finds
				// when it moves the flow on).
				h.Pages.RenderError(w, r, catalog.InvalidRequest.WithMessage(
					"This application or account is no longer available. Start again from the application.").Wrap(err), "")
				return
			}
			h.Pages.Render(w, r, pages.Consent, csrf, view(f), err)
			return
		}
		err = f.Consented(f.Scopes)
	case "deny":
		if err := h.Service.Denied(ctx, f.UserID, f.ClientID, f.Scopes); err != nil {
			h.Pages.Render(w, r, pages.Consent, csrf, view(f), err)
			return
		}
		err = f.Deny()
	default:
		h.Pages.Render(w, r, pages.Consent, csrf, view(f), catalog.InvalidRequest.WithDetail("field", "decision"))
		return
	}
	if err != nil {
		h.Pages.RenderError(w, r, flow.ErrInvalid.Wrap(err), "")
		return
	}
	// The flow is written once, with the code or the denial.
	h.Continue(w, r, f)
}
