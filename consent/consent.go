package consent

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/storage"
)

// Store is what the consent service needs from storage.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	GetGrant(ctx context.Context, userID, clientID string) (storage.Grant, error)
	UpsertGrant(ctx context.Context, g storage.Grant) error
	DeleteGrant(ctx context.Context, userID, clientID string) error
	AppendEvent(ctx context.Context, e storage.Event) error
}

// Service remembers consent decisions per (account, client, scopes).
type Service struct {
	Store Store
}

// ErrNotGranted: the user's grant to the client no longer covers the scopes
// (revoked, or narrowed).
var ErrNotGranted = errors.New("consent: the grant no longer covers these scopes")

// Evaluate decides a refresh on an account and its grant already loaded
// (the provider loads them with the refresh token, in one query): nil, the
// account's status error, or ErrNotGranted.
func Evaluate(u storage.User, g storage.Grant, scopes []string, now time.Time) error {
	if err := login.StatusError(u, now); err != nil {
		return err
	}
	if !covers(g.Scopes, scopes) {
		return ErrNotGranted
	}
	return nil
}

// covers reports whether granted holds every scope in scopes.
func covers(granted, scopes []string) bool {
	for _, sc := range scopes {
		if !slices.Contains(granted, sc) {
			return false
		}
	}
	return true
}

// Covers reports whether the user already granted the client every scope.
func (s *Service) Covers(ctx context.Context, userID, clientID string, scopes []string) (bool, error) {
	g, err := s.Store.GetGrant(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return covers(g.Scopes, scopes), nil
}

// Remember adds scopes to the user's grant for the client (creating it),
// recording consent.granted in the same transaction. auto marks grants
// made without asking (first-party clients).
func (s *Service) Remember(ctx context.Context, userID, clientID string, scopes []string, auto bool) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		all := slices.Clone(scopes)
		if g, err := s.Store.GetGrant(ctx, userID, clientID); err == nil {
			for _, sc := range g.Scopes {
				if !slices.Contains(all, sc) {
					all = append(all, sc)
				}
			}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		slices.Sort(all)
		if err := s.Store.UpsertGrant(ctx, storage.Grant{UserID: userID, ClientID: clientID, Scopes: all}); err != nil {
			return err
		}
		return events.Record(ctx, s.Store, events.ConsentGranted, userID, map[string]any{"client_id": clientID, "scopes": scopes, "automatic": auto})
	})
}

// Denied records that the user refused the client.
func (s *Service) Denied(ctx context.Context, userID, clientID string, scopes []string) error {
	return events.Record(ctx, s.Store, events.ConsentDenied, userID, map[string]any{"client_id": clientID, "scopes": scopes})
}

// Revoke forgets the user's consent for the client; the client's refresh
// tokens stop working at their next use (the provider checks the grant).
func (s *Service) Revoke(ctx context.Context, userID, clientID string) error {
	return s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.DeleteGrant(ctx, userID, clientID); err != nil {
			return err
		}
		return events.Record(ctx, s.Store, events.ConsentRevoked, userID, map[string]any{"client_id": clientID})
	})
}

// Describe returns the human description of a scope on the consent page.
func Describe(scope string) string {
	switch scope {
	case "openid":
		return "Sign you in with your account"
	case "profile":
		return "Your name and profile"
	case "email":
		return "Your email address"
	case "phone":
		return "Your phone number"
	case "offline_access":
		return "Keep access when you are not using it (stay signed in)"
	}
	return "Access “" + scope + "”"
}
