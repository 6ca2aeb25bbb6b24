package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
)

// State is where a flow is.
type State string

// The states. Transitions: Login → Consent (authenticated) → Ready
// (consented) → Done (code issued); Login or Consent → Denied → Done.
const (
	Login   State = "login"
	Consent State = "consent"
	Ready   State = "ready"
	Denied  State = "denied"
	Done    State = "done"
)

// ErrTransition is returned for a move the state machine does not allow.
var ErrTransition = errors.New("flow: transition not allowed")

// Flow is one pending authorization.
type Flow struct {
	ID       string `json:"-"`
	ClientID string `json:"-"`
	State    State  `json:"-"`
	// ClientName is shown on the login and consent pages.
	ClientName string `json:"client_name"`
	// Request is the authorization request as /oauth2/auth validated it.
	Request     url.Values `json:"request"`
	RequestedAt time.Time  `json:"requested_at"`
	// Scopes are the requested scopes.
	Scopes []string `json:"scopes"`
	// ForceLogin: prompt=login, an expired max_age or an id_token_hint for
	// another account. ForceConsent: prompt=consent.
	ForceLogin   bool   `json:"force_login,omitempty"`
	ForceConsent bool   `json:"force_consent,omitempty"`
	LoginHint    string `json:"login_hint,omitempty"`

	// Set by Authenticated.
	UserID      string    `json:"user_id,omitempty"`
	AccountName string    `json:"account_name,omitempty"`
	SessionID   string    `json:"session_id,omitempty"`
	AuthTime    time.Time `json:"auth_time,omitzero"`
	AMR         []string  `json:"amr,omitempty"`
	ACR         string    `json:"acr,omitempty"`

	// Set by Consented.
	GrantedScopes []string `json:"granted_scopes,omitempty"`

	ExpiresAt time.Time `json:"-"`
	// saved is the state the database holds; Save moves the stored flow
	// only from it, so a flow may pass through several states in memory and
	// be written once.
	saved State
}

// Authenticated records who signed in (and how: amr, acr) and moves Login
// to Consent. account is the name shown on the consent page.
func (f *Flow) Authenticated(userID, account, sessionID string, authTime time.Time, amr []string, acr string) error {
	if f.State != Login {
		return fmt.Errorf("%w: authenticate in state %s", ErrTransition, f.State)
	}
	f.UserID, f.AccountName, f.SessionID, f.AuthTime, f.AMR, f.ACR = userID, account, sessionID, authTime, amr, acr
	f.State = Consent
	return nil
}

// Consented records the granted scopes (a subset of the requested ones) and
// moves Consent to Ready.
func (f *Flow) Consented(granted []string) error {
	if f.State != Consent {
		return fmt.Errorf("%w: consent in state %s", ErrTransition, f.State)
	}
	for _, s := range granted {
		if !slices.Contains(f.Scopes, s) {
			return fmt.Errorf("%w: scope %q was not requested", ErrTransition, s)
		}
	}
	f.GrantedScopes = granted
	f.State = Ready
	return nil
}

// Deny records that the user refused.
func (f *Flow) Deny() error {
	if f.State != Login && f.State != Consent {
		return fmt.Errorf("%w: deny in state %s", ErrTransition, f.State)
	}
	f.State = Denied
	return nil
}

// Finish marks a Ready or Denied flow Done: its answer was sent, it can
// never be used again.
func (f *Flow) Finish() error {
	if f.State != Ready && f.State != Denied {
		return fmt.Errorf("%w: finish in state %s", ErrTransition, f.State)
	}
	f.State = Done
	return nil
}

// Stored reports whether f is in the database (started or loaded).
func (f *Flow) Stored() bool { return f.saved != "" }

// Unsaved reports whether a stored f moved on in memory since it was
// loaded or last saved.
func (f *Flow) Unsaved() bool { return f.saved != "" && f.State != f.saved }

// Store is what Service needs from storage.
type Store interface {
	CreateFlow(ctx context.Context, f storage.Flow) error
	GetFlow(ctx context.Context, id string) (storage.Flow, error)
	UpdateFlow(ctx context.Context, f storage.Flow, fromState string) error
}

// Service stores and loads flows.
type Service struct {
	Store Store
	Now   func() time.Time
}

// lifetime is how long a user has to finish signing in.
const lifetime = 30 * time.Minute

// ErrInvalid is what every unusable flow id becomes: unknown, expired,
// finished, or started in another browser. The user starts again from the
// application.
var ErrInvalid = catalog.InvalidToken.WithMessage("This sign-in request has expired or is not valid. Go back to the application and start again.")

// Start stores a new flow bound to device, in state Login unless it moved
// on already (a browser session authenticated it), and sets its id.
func (s *Service) Start(ctx context.Context, f *Flow, device string) error {
	f.ID = web.RandomToken(32)
	if f.State == "" {
		f.State = Login
	}
	f.ExpiresAt = s.Now().Add(lifetime)
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := s.Store.CreateFlow(ctx, storage.Flow{ID: f.ID, ClientID: f.ClientID, State: string(f.State),
		DeviceHash: web.HashToken(device), Data: data, CreatedAt: s.Now(), ExpiresAt: f.ExpiresAt}); err != nil {
		return err
	}
	f.saved = f.State
	return nil
}

// Load returns the flow if id names one that is bound to device, not
// expired and not finished; ErrInvalid otherwise.
func (s *Service) Load(ctx context.Context, id, device string) (*Flow, error) {
	if id == "" || device == "" {
		return nil, ErrInvalid
	}
	row, err := s.Store.GetFlow(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrInvalid.Wrap(err)
	}
	if err != nil {
		return nil, err
	}
	if !web.Equal(row.DeviceHash, web.HashToken(device)) || !s.Now().Before(row.ExpiresAt) || State(row.State) == Done {
		return nil, ErrInvalid
	}
	f := &Flow{}
	if err := json.Unmarshal(row.Data, f); err != nil {
		return nil, err
	}
	f.ID, f.ClientID, f.State, f.ExpiresAt = row.ID, row.ClientID, State(row.State), row.ExpiresAt
	f.saved = f.State
	return f, nil
}

// Save writes f if the stored flow is still in the state it was loaded (or
// last saved) in: of two requests moving one flow, one wins and the other
// gets ErrInvalid.
func (s *Service) Save(ctx context.Context, f *Flow) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	err = s.Store.UpdateFlow(ctx, storage.Flow{ID: f.ID, State: string(f.State), Data: data}, string(f.saved))
	if errors.Is(err, storage.ErrConflict) {
		return ErrInvalid.Wrap(err)
	}
	if err == nil {
		f.saved = f.State
	}
	return err
}
