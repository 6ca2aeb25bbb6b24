package catalog

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/storage"
)

// Resolve is From plus the storage mapping: a storage.ErrUnavailable anywhere
// in the chain becomes ServiceUnavailable (fail closed with 503), anything
// else unknown becomes Internal.
func Resolve(err error) *Error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return ServiceUnavailable.WithRetryAfter(2).Wrap(err)
	}
	return Internal.Wrap(err)
}

// Envelope is the JSON body of every JSON API error:
// {"error":{"code":"…","message":"…","details":{…}}}.
type Envelope struct {
	Error EnvelopeError `json:"error"`
}

// EnvelopeError is the inner object of Envelope.
type EnvelopeError struct {
	Code    Code           `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Body returns the JSON API envelope for err. Internal errors carry the
// request id so support can find the log line; their message stays generic.
func Body(e *Error, requestID string) Envelope {
	details := e.Details
	if e.Code == Internal.Code && requestID != "" {
		details = map[string]any{"request_id": requestID}
	}
	return Envelope{Error: EnvelopeError{Code: e.Code, Message: e.Message, Details: details}}
}

// WriteJSON writes err as the JSON API envelope with the code's status,
// Cache-Control: no-store and, where set, Retry-After. It is the one JSON
// mapping; the caller logs the cause (with the request id) before calling.
func WriteJSON(w http.ResponseWriter, err error, requestID string) {
	e := Resolve(err)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(Body(e, requestID))
}
