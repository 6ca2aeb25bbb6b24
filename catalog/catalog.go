package catalog

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
)

// Code is a stable, upper-case error code from docs/errors.md. Codes and their
// HTTP statuses are the public contract; messages may change.
type Code string

// Error is a catalog error. The package-level values below are sentinels:
// they are never mutated, and every With* method returns a copy, so
// errors.Is(err, catalog.InvalidCredentials) holds for every error derived
// from that sentinel (comparison is by Code).
type Error struct {
	// Code is the catalog code.
	Code Code
	// Status is the HTTP status that belongs to Code; it never varies per use.
	Status int
	// Message is a human description that is safe to show to the caller.
	Message string
	// Details carries the fields docs/errors.md lists for the code. Never
	// secrets, hashes, codes or tokens.
	Details map[string]any
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int

	cause error
}

// Error implements error. It includes the cause for logs; callers never show
// Error() to clients, they show Message.
func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is reports whether target is a catalog error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the cause, so errors.Is also finds the underlying error
// (for example storage.ErrUnavailable under SERVICE_UNAVAILABLE).
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) clone() *Error {
	c := *e
	c.Details = maps.Clone(e.Details)
	return &c
}

// Wrap returns a copy of e that carries cause for logs and errors.Is.
func (e *Error) Wrap(cause error) *Error {
	c := e.clone()
	c.cause = cause
	return c
}

// WithMessage returns a copy of e with a different, client-safe message.
func (e *Error) WithMessage(msg string) *Error {
	c := e.clone()
	c.Message = msg
	return c
}

// WithDetail returns a copy of e with one more detail field.
func (e *Error) WithDetail(key string, value any) *Error {
	c := e.clone()
	if c.Details == nil {
		c.Details = map[string]any{}
	}
	c.Details[key] = value
	return c
}

// WithRetryAfter returns a copy of e that asks the caller to wait seconds
// before retrying; the value is also set as the retry_after detail for the
// codes that document it.
func (e *Error) WithRetryAfter(seconds int) *Error {
	c := e.WithDetail("retry_after", seconds)
	c.RetryAfter = seconds
	return c
}

// From returns the catalog error carried by err, or Internal wrapping err
// when err carries none. A nil err returns nil.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return Internal.Wrap(err)
}

var all []*Error

func define(code Code, status int, msg string) *Error {
	e := &Error{Code: code, Status: status, Message: msg}
	all = append(all, e)
	return e
}

// All returns a copy of every defined code, in catalog order. Tests use it to
// prove each code has one status and is reachable from every surface mapping.
func All() []*Error {
	out := make([]*Error, len(all))
	for i, e := range all {
		out[i] = e.clone()
	}
	return out
}

// The catalog. The order and the statuses follow docs/errors.md.
var (
	InvalidCredentials      = define("INVALID_CREDENTIALS", http.StatusUnauthorized, "The email or password is incorrect.")
	EmailAlreadyExists      = define("EMAIL_ALREADY_EXISTS", http.StatusConflict, "An account with this email address already exists.")
	PhoneAlreadyExists      = define("PHONE_ALREADY_EXISTS", http.StatusConflict, "An account with this phone number already exists.")
	InvalidEmail            = define("INVALID_EMAIL", http.StatusBadRequest, "The email address is not valid.")
	InvalidPhone            = define("INVALID_PHONE", http.StatusBadRequest, "The phone number is not valid.")
	InvalidPassword         = define("INVALID_PASSWORD", http.StatusBadRequest, "The password does not meet the password policy.")
	AccountInactive         = define("ACCOUNT_INACTIVE", http.StatusForbidden, "This account is deactivated.")
	AccountSuspended        = define("ACCOUNT_SUSPENDED", http.StatusForbidden, "This account is suspended.")
	AccountBanned           = define("ACCOUNT_BANNED", http.StatusForbidden, "This account is banned.")
	AccountLocked           = define("ACCOUNT_LOCKED", http.StatusForbidden, "This account is locked.")
	TooManyAttempts         = define("TOO_MANY_ATTEMPTS", http.StatusTooManyRequests, "Too many attempts. Try again later.")
	EmailNotVerified        = define("EMAIL_NOT_VERIFIED", http.StatusForbidden, "The email address is not verified.")
	PhoneNotVerified        = define("PHONE_NOT_VERIFIED", http.StatusForbidden, "The phone number is not verified.")
	ConfirmationNotFound    = define("CONFIRMATION_NOT_FOUND", http.StatusNotFound, "The confirmation link is unknown or was already used.")
	ConfirmationExpired     = define("CONFIRMATION_EXPIRED", http.StatusGone, "The confirmation link has expired.")
	InvalidToken            = define("INVALID_TOKEN", http.StatusBadRequest, "The token is malformed or invalid.")
	UserNotFound            = define("USER_NOT_FOUND", http.StatusNotFound, "The account does not exist.")
	MFARequired             = define("MFA_REQUIRED", http.StatusUnauthorized, "A second factor is required.")
	MFAInvalidCode          = define("MFA_INVALID_CODE", http.StatusUnauthorized, "The code is incorrect.")
	MFACodeExpired          = define("MFA_CODE_EXPIRED", http.StatusUnauthorized, "The code has expired.")
	MFASessionExpired       = define("MFA_SESSION_EXPIRED", http.StatusUnauthorized, "The sign-in attempt expired. Start again.")
	InvalidRecoveryCode     = define("INVALID_RECOVERY_CODE", http.StatusUnauthorized, "The recovery code is not valid.")
	MFANotSetup             = define("MFA_NOT_SETUP", http.StatusBadRequest, "This second factor is not set up.")
	MFAAlreadyEnabled       = define("MFA_ALREADY_ENABLED", http.StatusConflict, "This second factor is already enabled.")
	MFASetupIncomplete      = define("MFA_SETUP_INCOMPLETE", http.StatusConflict, "This second factor was never confirmed.")
	ResetNotFound           = define("RESET_NOT_FOUND", http.StatusNotFound, "The reset link is unknown or was already used.")
	ResetExpired            = define("RESET_EXPIRED", http.StatusGone, "The reset link has expired.")
	ResetDisabled           = define("RESET_DISABLED", http.StatusForbidden, "Password reset is disabled for this account.")
	TooManyResets           = define("TOO_MANY_RESETS", http.StatusTooManyRequests, "Too many open password reset requests.")
	InvalidRefreshToken     = define("INVALID_REFRESH_TOKEN", http.StatusUnauthorized, "The refresh token is invalid, expired, revoked or was already used.")
	NotAuthenticated        = define("NOT_AUTHENTICATED", http.StatusUnauthorized, "Sign in first.")
	TenantRequired          = define("TENANT_REQUIRED", http.StatusBadRequest, "The request names no tenant.")
	TenantNotFound          = define("TENANT_NOT_FOUND", http.StatusNotFound, "The tenant does not exist.")
	InsufficientRoles       = define("INSUFFICIENT_ROLES", http.StatusForbidden, "A required role is missing.")
	InsufficientPermissions = define("INSUFFICIENT_PERMISSIONS", http.StatusForbidden, "A required permission is missing.")
	InvalidAPIKey           = define("INVALID_API_KEY", http.StatusUnauthorized, "The API key is invalid.")
	IdentityAlreadyLinked   = define("IDENTITY_ALREADY_LINKED", http.StatusConflict, "This external account is already linked to another account.")
	LastLoginMethod         = define("LAST_LOGIN_METHOD", http.StatusConflict, "This is the last way to sign in to the account.")
	ProviderError           = define("PROVIDER_ERROR", http.StatusBadGateway, "The external identity provider failed.")
	InvalidRequest          = define("INVALID_REQUEST", http.StatusBadRequest, "The request is malformed.")
	RateLimited             = define("RATE_LIMITED", http.StatusTooManyRequests, "Too many requests. Try again later.")
	Internal                = define("INTERNAL", http.StatusInternalServerError, "Something went wrong on our side.")
	// ServiceUnavailable is a project addition (docs/errors.md): the database
	// or another dependency is unreachable; the request failed closed and may
	// be retried.
	ServiceUnavailable = define("SERVICE_UNAVAILABLE", http.StatusServiceUnavailable, "The service is temporarily unavailable. Try again shortly.")
	// NotFound is a project addition: no endpoint at this path.
	NotFound = define("NOT_FOUND", http.StatusNotFound, "There is nothing at this address.")
	// MethodNotAllowed is a project addition: the endpoint exists but does
	// not take this HTTP method.
	MethodNotAllowed = define("METHOD_NOT_ALLOWED", http.StatusMethodNotAllowed, "This endpoint does not accept this method.")
)
