package web

import (
	"bytes"
	"maps"
	"net/http"
)

// Held is a response kept in memory until the caller decides to send it:
// a handler whose answer must not leave before a transaction commits (the
// login step's redirect carries a code whose session must be durable first)
// writes into a Held, commits, then sends it, or sends something else when
// the commit fails.
type Held struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Hold returns an empty Held whose headers start as a copy of w's (those
// middleware set already), so Set and Add on it act as they would on w.
func Hold(w http.ResponseWriter) *Held {
	return &Held{header: w.Header().Clone()}
}

// Header returns the held response's header map.
func (h *Held) Header() http.Header { return h.header }

// WriteHeader records the status; as on a real ResponseWriter, only the
// first call counts.
func (h *Held) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// Write appends to the held body (status 200 unless one was written).
func (h *Held) Write(p []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return h.body.Write(p)
}

// Status is the held status, 0 while nothing was written.
func (h *Held) Status() int { return h.status }

// Send writes the held response to w: w's headers become the held ones
// (which started as a copy of them), then the status and the body.
func (h *Held) Send(w http.ResponseWriter) {
	dst := w.Header()
	clear(dst)
	maps.Copy(dst, h.header)
	w.WriteHeader(max(h.status, http.StatusOK))
	_, _ = w.Write(h.body.Bytes())
}
