package login

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
	"github.com/google/uuid"
)

// Session is a valid browser session with its account.
type Session struct {
	storage.LoginSession
	User storage.User
}

// Sessions manages browser sign-in sessions: a random 256-bit cookie value,
// stored only as its SHA-256, a new one on every sign-in, gone on logout.
type Sessions struct {
	Service *Service
	Cookies web.Cookies
}

func (s *Sessions) cookie(ctx context.Context) string {
	tid, _ := tenant.From(ctx)
	return s.Cookies.Name("session", tid)
}

// Start creates a session for u after a successful authentication (Begin)
// and sets its cookie.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, u storage.User, amr []string, acr string) (storage.LoginSession, error) {
	ls, token, err := s.Begin(ctx, r, u, amr, acr)
	if err != nil {
		return ls, err
	}
	s.SetCookie(ctx, w, token)
	return ls, nil
}

// Begin stores a new session for u after a successful authentication, ends
// the session the browser had before (a new id on every login) and records
// login.succeeded, in one transaction (the ctx's, when it carries one: the
// session then commits with the rest of it). It returns the session and the
// cookie value for SetCookie, which the caller sets once that transaction
// committed.
func (s *Sessions) Begin(ctx context.Context, r *http.Request, u storage.User, amr []string, acr string) (storage.LoginSession, string, error) {
	svc := s.Service
	now := svc.Now().UTC()
	token := web.RandomToken(32)
	ls := storage.LoginSession{
		ID: uuid.Must(uuid.NewV7()).String(), TokenHash: web.HashToken(token), UserID: u.ID, AuthTime: now.Truncate(time.Second),
		AMR: amr, ACR: acr, CreatedAt: now, ExpiresAt: now.Add(svc.SessionTTL),
	}
	err := svc.Store.InTx(ctx, func(ctx context.Context) error {
		if old := web.Get(r, s.cookie(ctx)); old != "" {
			if prev, err := svc.Store.GetLoginSessionByToken(ctx, web.HashToken(old)); err == nil {
				if err := svc.Store.RevokeLoginSession(ctx, prev.ID, now); err != nil {
					return err
				}
			}
		}
		if err := svc.Store.CreateLoginSession(ctx, ls); err != nil {
			return err
		}
		return events.Record(ctx, svc.Store, events.LoginSucceeded, u.ID, map[string]any{"amr": amr, "session_id": ls.ID})
	})
	if err != nil {
		return ls, "", err
	}
	return ls, token, nil
}

// SetCookie sets the session cookie Begin returned.
func (s *Sessions) SetCookie(ctx context.Context, w http.ResponseWriter, token string) {
	s.Cookies.Set(w, s.cookie(ctx), token, s.Service.SessionTTL)
}

// Current returns the browser's session when it is valid: known, not
// revoked, not expired, and its account may still sign in. No session is
// (nil, nil); only failures (storage, context) are errors.
func (s *Sessions) Current(ctx context.Context, r *http.Request) (*Session, error) {
	token := web.Get(r, s.cookie(ctx))
	if token == "" {
		return nil, nil
	}
	// The session and its account in one query (a session is deleted
	// with its account).
	ls, u, err := s.Service.Store.GetLoginSessionWithUser(ctx, web.HashToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.Service.Now()
	if ls.RevokedAt != nil || !now.Before(ls.ExpiresAt) {
		return nil, nil
	}
	if StatusError(u, now) != nil {
		return nil, nil // the account may not sign in: no session
	}
	return &Session{LoginSession: ls, User: u}, nil
}

// End revokes the browser's session (if any), clears the cookie and records
// logout.succeeded. It returns the session that ended, or nil.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) (*storage.LoginSession, error) {
	name := s.cookie(ctx)
	token := web.Get(r, name)
	s.Cookies.Clear(w, name)
	if token == "" {
		return nil, nil
	}
	svc := s.Service
	ls, err := svc.Store.GetLoginSessionByToken(ctx, web.HashToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ls.RevokedAt != nil {
		return nil, nil
	}
	err = svc.Store.InTx(ctx, func(ctx context.Context) error {
		if err := svc.Store.RevokeLoginSession(ctx, ls.ID, svc.Now()); err != nil {
			return err
		}
		return events.Record(ctx, svc.Store, events.LogoutSucceeded, ls.UserID, map[string]any{"session_id": ls.ID})
	})
	return &ls, err
}
