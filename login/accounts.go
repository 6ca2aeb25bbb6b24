package login

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/login/commonpw"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"
)

// Store is what the login service needs from storage.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	CreateUser(ctx context.Context, u storage.User) error
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetUserByEmail(ctx context.Context, normalized string) (storage.User, error)
	GetUserCredential(ctx context.Context, normalized, typ string) (storage.User, storage.Credential, error)
	SetCredential(ctx context.Context, c storage.Credential) error
	GetCredential(ctx context.Context, userID, typ string) (storage.Credential, error)
	CreateLoginSession(ctx context.Context, s storage.LoginSession) error
	GetLoginSessionByToken(ctx context.Context, tokenHash []byte) (storage.LoginSession, error)
	GetLoginSessionWithUser(ctx context.Context, tokenHash []byte) (storage.LoginSession, storage.User, error)
	RevokeLoginSession(ctx context.Context, id string, at time.Time) error
	AppendEvent(ctx context.Context, e storage.Event) error
}

// PasswordPolicy bounds new passwords (NIST SP 800-63B-4 §3.1.1.2:
// length, no composition rules, no silent truncation, and not one of the
// commonly used passwords).
type PasswordPolicy struct {
	Min, Max int // in characters after NFC normalisation
}

// DefaultPasswordPolicy allows 15 to 256 characters: NIST SP 800-63B-4
// asks for 15 when the password is the only factor, as it is here until
// second factors come (8 is its minimum when one is required).
var DefaultPasswordPolicy = PasswordPolicy{Min: 15, Max: 256}

// Service is accounts and authentication.
type Service struct {
	Store      Store
	Hasher     *Hasher
	Policy     PasswordPolicy
	Now        func() time.Time
	Log        *slog.Logger
	SessionTTL time.Duration
}

// NormalizeEmail returns the comparison form of an email address, or
// INVALID_EMAIL.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || len(email) > 254 || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "", catalog.InvalidEmail.WithDetail("field", "email")
	}
	// NFC again after lower-casing: the lower case of an NFC string need
	// not be NFC (T + U+0308 has no precomposed capital, but t + U+0308 is
	// U+1E97), and one address must have one comparison form.
	return norm.NFC.String(strings.ToLower(norm.NFC.String(email))), nil
}

// CheckPassword applies the policy to a new password.
func (p PasswordPolicy) CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(norm.NFC.String(password))
	switch {
	case commonpw.Contains(password): // first: the strongest reason to pick another
		return catalog.InvalidPassword.WithDetail("reason", "common")
	case n < p.Min:
		return catalog.InvalidPassword.WithDetail("reason", "too_short").WithDetail("min", p.Min).WithDetail("max", p.Max)
	case n > p.Max:
		return catalog.InvalidPassword.WithDetail("reason", "too_long").WithDetail("min", p.Min).WithDetail("max", p.Max)
	// Both in NFC: the password is hashed in NFC and an email is one
	// address in any Unicode form (NormalizeEmail), so ä typed as one code
	// point or as a + combining diaeresis is the same identifier.
	case email != "" && strings.EqualFold(norm.NFC.String(strings.TrimSpace(password)), norm.NFC.String(strings.TrimSpace(email))):
		return catalog.InvalidPassword.WithDetail("reason", "contains_identifier")
	}
	return nil
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Email         string
	Password      string
	EmailVerified bool
	Name          string
}

// CreateUser creates an account with a password, recording
// user.registered in the same transaction.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (storage.User, error) {
	normalized, err := NormalizeEmail(in.Email)
	if err != nil {
		return storage.User{}, err
	}
	if err := s.Policy.CheckPassword(in.Password, in.Email); err != nil {
		return storage.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return storage.User{}, err
	}
	now := s.Now().UTC()
	u := storage.User{
		ID: uuid.Must(uuid.NewV7()).String(), Email: strings.TrimSpace(in.Email), EmailNormalized: normalized,
		EmailVerified: in.EmailVerified, Name: in.Name, Status: storage.StatusActive, Resettable: true,
		CreatedAt: now, UpdatedAt: now,
	}
	err = s.Store.InTx(ctx, func(ctx context.Context) error {
		if err := s.Store.CreateUser(ctx, u); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return catalog.EmailAlreadyExists.WithDetail("providers", []string{"password"}).Wrap(err)
			}
			return err
		}
		if err := s.Store.SetCredential(ctx, storage.Credential{UserID: u.ID, Type: storage.CredentialPassword, Secret: hash}); err != nil {
			return err
		}
		return events.Record(ctx, s.Store, events.UserRegistered, u.ID, map[string]any{"method": "admin"})
	})
	return u, err
}

// StatusError returns the catalog error for an account that may not sign
// in, or nil for an active one. A suspension or lock whose end has passed
// counts as active.
func StatusError(u storage.User, now time.Time) error {
	expired := u.StatusUntil != nil && !now.Before(*u.StatusUntil)
	switch u.Status {
	case storage.StatusActive:
		return nil
	case storage.StatusInactive:
		return catalog.AccountInactive
	case storage.StatusBanned:
		return catalog.AccountBanned
	case storage.StatusSuspended:
		if expired {
			return nil
		}
		e := catalog.AccountSuspended
		if u.StatusUntil != nil {
			e = e.WithDetail("until", u.StatusUntil.UTC().Format(time.RFC3339))
		}
		return e
	case storage.StatusLocked:
		if expired {
			return nil
		}
		e := catalog.AccountLocked
		if u.StatusUntil != nil {
			e = e.WithDetail("until", u.StatusUntil.UTC().Format(time.RFC3339))
		}
		return e
	}
	return catalog.AccountInactive
}

// Active returns the account if it exists and may use its tokens and
// sessions now; USER_NOT_FOUND or the status error otherwise.
func (s *Service) Active(ctx context.Context, userID string) (storage.User, error) {
	u, err := s.Store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return u, catalog.UserNotFound.Wrap(err)
	}
	if err != nil {
		return u, err
	}
	return u, StatusError(u, s.Now())
}

// Authenticate checks an email and password. Unknown accounts, accounts
// without a password, accounts whose stored hash is unusable (logged as an
// error) and wrong passwords are one answer, INVALID_CREDENTIALS, after the
// same argon2id work; the status of an account is only revealed once its
// password was proven.
func (s *Service) Authenticate(ctx context.Context, email, password string) (storage.User, error) {
	var u storage.User
	var encoded string
	normalized, err := NormalizeEmail(email)
	if err == nil {
		var c storage.Credential
		u, c, err = s.Store.GetUserCredential(ctx, normalized, storage.CredentialPassword)
		encoded = c.Secret
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, catalog.InvalidEmail) {
		return u, err
	}
	ok, rehash, verr := s.Hasher.Verify(ctx, encoded, password)
	if errors.Is(verr, errBadHash) {
		// The stored hash is unusable (damaged, or from another system):
		// the operator must know, the user must not. Verify against the
		// dummy so the answer costs what a wrong password does, and give
		// that answer: a 500 here would tell that the account exists.
		if s.Log != nil {
			s.Log.ErrorContext(ctx, "stored password hash is unusable; the account cannot sign in with a password",
				"user_id", u.ID, "error", verr)
		}
		_, _, verr = s.Hasher.Verify(ctx, "", password) // ok stays false
	}
	if verr != nil {
		return u, verr
	}
	if !ok || err != nil {
		// Recorded for unknown accounts too (empty subject), so both cases
		// cost the same write.
		_ = events.Record(ctx, s.Store, events.LoginFailed, u.ID, map[string]any{"method": "password", "reason": "invalid_credentials"})
		return storage.User{}, catalog.InvalidCredentials
	}
	if err := StatusError(u, s.Now()); err != nil {
		_ = events.Record(ctx, s.Store, events.LoginFailed, u.ID, map[string]any{"method": "password", "reason": "status_" + u.Status})
		return storage.User{}, err
	}
	if rehash {
		if h, err := s.Hasher.Hash(ctx, password); err == nil {
			_ = s.Store.SetCredential(ctx, storage.Credential{UserID: u.ID, Type: storage.CredentialPassword, Secret: h})
		}
	}
	return u, nil
}
