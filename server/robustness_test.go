package server_test

// Robustness of the HTTP layer: request limits, slow clients, routing,
// panic recovery, request ids, forwarded headers and the admin listener,
// each attacked through a real listener (raw net.Conn where net/http's
// client would refuse to send the request).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/gatehouse/gatehouse/tenant"
	"golang.org/x/oauth2"
)

// rbBodyLimit is the documented request body limit (docs/architecture.md,
// "Requests": 1 MiB bodies).
const rbBodyLimit = 1 << 20

var (
	rbRequestIDShape = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	rbGeneratedID    = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// rbAddr is the host:port of a base URL.
func rbAddr(base string) string { return strings.TrimPrefix(base, "http://") }

// rbNoRedirect is a client that reports redirects instead of following them.
func rbNoRedirect() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// rbDo sends one request with net/http (no redirects followed) and returns
// the response and its whole body. header is name, value pairs; "Host" sets
// the Host header.
func rbDo(t *testing.T, method, target string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := rbNoRedirect().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// rbRaw writes raw (one complete HTTP/1.1 request) on a new connection to
// base and reads one response. method must be raw's method (HEAD responses
// have no body).
func rbRaw(t *testing.T, base, method, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", rbAddr(base), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response to %.80q: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// rbRequest builds a raw request: request line, Host, Connection: close,
// then the extra header lines (each "Name: value", sent byte for byte).
func rbRequest(base, method, target string, lines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, rbAddr(base))
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func rbJSON(raw []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// rbEnvelopeCode is the code of a JSON API error envelope.
func rbEnvelopeCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// rbWantCatalog asserts a JSON API error (docs/errors.md): the code's
// status, the envelope with the code (no body for HEAD), Cache-Control:
// no-store and a sane X-Request-Id.
func rbWantCatalog(t *testing.T, what string, resp *http.Response, raw []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %.300s)", what, resp.StatusCode, status, raw)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
	}
	if id := resp.Header.Get("X-Request-Id"); !rbRequestIDShape.MatchString(id) {
		t.Errorf("%s: X-Request-Id %q", what, id)
	}
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		if len(raw) != 0 {
			t.Errorf("%s: HEAD answered with a body: %.200s", what, raw)
		}
		return
	}
	if got := rbEnvelopeCode(rbJSON(raw)); got != code {
		t.Errorf("%s: code %q, want %q (body %.300s)", what, got, code, raw)
	}
}

// rbWantProtocol asserts an RFC 6749 error body: status, error, and
// error_code (wantCode "" means the member must be absent).
func rbWantProtocol(t *testing.T, what string, resp *http.Response, raw []byte, status int, errName, wantCode string) {
	t.Helper()
	body := rbJSON(raw)
	if resp.StatusCode != status || body["error"] != errName {
		t.Errorf("%s: %d error=%v, want %d %s (body %.300s)", what, resp.StatusCode, body["error"], status, errName, raw)
		return
	}
	if got, _ := body["error_code"].(string); got != wantCode {
		t.Errorf("%s: error_code %q, want %q", what, got, wantCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
	}
	if id := resp.Header.Get("X-Request-Id"); !rbRequestIDShape.MatchString(id) {
		t.Errorf("%s: X-Request-Id %q", what, id)
	}
}

var rbErrorCodeAttr = regexp.MustCompile(`data-error-code="([^"]*)"`)

// rbWantPage asserts an HTML error page: status and data-error-code.
func rbWantPage(t *testing.T, what string, resp *http.Response, raw []byte, status int, code string) {
	t.Helper()
	m := rbErrorCodeAttr.FindSubmatch(raw)
	if resp.StatusCode != status || m == nil || string(m[1]) != code {
		t.Errorf("%s: %d page code %q, want %d %s (body %.300s)", what, resp.StatusCode, m, status, code, raw)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q, want HTML", what, ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
	}
}

// rbAccessLog waits (bounded) for the access-log line of the request with
// id and returns it: the line is written when the handler returns, which
// can be just after the client has read the response.
func rbAccessLog(t *testing.T, in *servertest.Instance, id string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		for _, line := range strings.Split(in.Logs.String(), "\n") {
			if strings.Contains(line, `msg="http request"`) && strings.Contains(line, " request_id="+id+" ") {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for request %s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rbClientCredentials registers a confidential client_credentials client
// in the default tenant.
func rbClientCredentials(t *testing.T, in *servertest.Instance) (storage.Client, string) {
	t.Helper()
	return in.CreateClient(t, in.Ctx(), provider.ClientSpec{Name: "robustness",
		GrantTypes: []string{provider.GrantClientCredentials}, Scopes: []string{"api:read"}})
}

// rbStream sends head, then a body of declared bytes (prefix, then filler
// 'a's; chunked when declared is 0) as fast as the server takes it, and
// stops as soon as the response has arrived. It returns the response, its
// body, and how many body bytes had been written when the response head was
// read: the server answering long before the declared length proves it
// never read the body whole.
func rbStream(t *testing.T, base, head string, prefix string, declared int64) (*http.Response, []byte, int64) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", rbAddr(base), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	chunked := declared == 0
	const total = 64 << 20 // what a chunked sender would send at most
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		filler := []byte(strings.Repeat("a", 64<<10))
		first := true
		for sent.Load() < total && (chunked || sent.Load() < declared) {
			select {
			case <-stop:
				return
			default:
			}
			data := filler
			if first {
				data = append([]byte(prefix), filler[len(prefix):]...)
				first = false
			}
			out := data
			if chunked {
				out = append(fmt.Appendf(nil, "%x\r\n", len(data)), append(data, "\r\n"...)...)
			}
			if _, err := conn.Write(out); err != nil {
				return // the server closed the connection: expected
			}
			sent.Add(int64(len(data)))
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodPost})
	atResponse := sent.Load()
	close(stop)
	if err != nil {
		conn.Close()
		wg.Wait()
		t.Fatalf("no response after %d body bytes: %v", atResponse, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	wg.Wait()
	return resp, body, atResponse
}

// TestRobustnessBodyLimit proves the 1 MiB body limit on every POST
// endpoint of the public listener: a body declared (or streamed chunked) at
// 64 MiB is answered after about the limit, long before the body was sent
// (the server never reads it whole, and never buffers it), with a 400 that
// carries the surface's error (RFC 6749 invalid_request on protocol
// endpoints, the INVALID_REQUEST page on /login and /consent), never a 5xx
// and never a token. A body under the limit still works.
func TestRobustnessBodyLimit(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{})
		c, secret := rbClientCredentials(t, in)
		basic := "Authorization: Basic " + rbBasic(c.ID, secret)
		const declared = 64 << 20
		form := "Content-Type: application/x-www-form-urlencoded"
		type check func(t *testing.T, what string, resp *http.Response, raw []byte)
		protocol := func(t *testing.T, what string, resp *http.Response, raw []byte) {
			rbWantProtocol(t, what, resp, raw, http.StatusBadRequest, "invalid_request", "")
		}
		page := func(t *testing.T, what string, resp *http.Response, raw []byte) {
			rbWantPage(t, what, resp, raw, http.StatusBadRequest, "INVALID_REQUEST")
		}
		cases := []struct {
			name, path, prefix string
			headers            []string
			chunked            bool
			want               check
		}{
			{"token", "/oauth2/token", "grant_type=client_credentials&scope=api%3Aread&pad=", []string{form, basic}, false, protocol},
			{"token chunked", "/oauth2/token", "grant_type=client_credentials&scope=api%3Aread&pad=", []string{form, basic}, true, protocol},
			{"token multipart", "/oauth2/token", "--rbXYZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--rbXYZ\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n",
				[]string{"Content-Type: multipart/form-data; boundary=rbXYZ", basic}, false, protocol},
			{"introspect", "/oauth2/introspect", "token=gh_at_x&pad=", []string{form, basic}, false, protocol},
			{"revoke", "/oauth2/revoke", "token=gh_rt_x&pad=", []string{form, basic}, false, protocol},
			{"login", "/login", "flow=x&csrf_token=y&email=a%40example.com&password=", []string{form}, false, page},
			{"login chunked", "/login", "flow=x&csrf_token=y&email=a%40example.com&password=", []string{form}, true, page},
			{"consent", "/consent", "flow=x&csrf_token=y&decision=allow&pad=", []string{form}, false, page},
			{"authorize", "/oauth2/auth", "client_id=x&pad=", []string{form}, false, page},
			{"logout", "/oauth2/sessions/logout", "pad=", []string{form}, false, page},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				lines := append([]string{}, tc.headers...)
				n := int64(declared)
				if tc.chunked {
					lines = append(lines, "Transfer-Encoding: chunked")
					n = 0
				} else {
					lines = append(lines, fmt.Sprintf("Content-Length: %d", declared))
				}
				resp, raw, sent := rbStream(t, in.URL, rbRequest(in.URL, http.MethodPost, tc.path, lines...), tc.prefix, n)
				t.Logf("POST %s: %d after %d body bytes", tc.path, resp.StatusCode, sent)
				if resp.StatusCode >= 500 {
					t.Fatalf("POST %s with a 64 MiB body: %d %.300s", tc.path, resp.StatusCode, raw)
				}
				if sent >= 32<<20 {
					t.Errorf("POST %s: answered only after %d body bytes: the body was read far past the %d-byte limit", tc.path, sent, rbBodyLimit)
				}
				if strings.Contains(string(raw), "access_token") {
					t.Errorf("POST %s: a token was issued for an oversized body: %.300s", tc.path, raw)
				}
				tc.want(t, "POST "+tc.path+" over the limit", resp, raw)
			})
		}

		// Under the limit (half of it, padding included) the same request
		// is served: the limit is not smaller than documented.
		body := "grant_type=client_credentials&scope=api%3Aread&pad=" + strings.Repeat("a", rbBodyLimit/2)
		resp, raw := rbDo(t, http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(body),
			"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+rbBasic(c.ID, secret))
		if resp.StatusCode != http.StatusOK || rbJSON(raw)["access_token"] == nil {
			t.Errorf("token request of %d bytes (under the limit): %d %.300s", len(body), resp.StatusCode, raw)
		}
	})
}

// TestRobustnessBodyLimitNamesTheCause proves that the token endpoint
// refuses a urlencoded body it could not read or parse *for that reason*:
// over the limit, it is invalid_request with a description naming the
// body (not "grant_type must be one grant type" for a body that starts
// with grant_type=client_credentials); malformed (a bad %-escape), it is
// invalid_request and no token, instead of the parameters parsed before
// the error being used (RFC 6749 §5.2: a malformed request is
// invalid_request). Both follow from one swallowed parse error.
func TestRobustnessBodyLimitNamesTheCause(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	c, secret := rbClientCredentials(t, in)
	body := "grant_type=client_credentials&scope=api%3Aread&pad=" + strings.Repeat("a", rbBodyLimit+10)
	resp, raw := rbDo(t, http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(body),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+rbBasic(c.ID, secret))
	rbWantProtocol(t, "token over the limit", resp, raw, http.StatusBadRequest, "invalid_request", "")
	desc, _ := rbJSON(raw)["error_description"].(string)
	if !strings.Contains(strings.ToLower(desc), "body") {
		t.Errorf("token over the limit: error_description %q does not name the body (the size error was swallowed; grant_type present in the body was reported missing)", desc)
	}

	resp, raw = rbDo(t, http.MethodPost, in.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=api%3Aread&x=%zz"),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+rbBasic(c.ID, secret))
	rbWantProtocol(t, "token with a malformed body", resp, raw, http.StatusBadRequest, "invalid_request", "")
	if strings.Contains(string(raw), "access_token") {
		t.Errorf("token with a malformed body: a token was issued: %.300s", raw)
	}
}

func rbBasic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestRobustnessMalformedFraming proves that broken message framing
// (invalid, negative, overflowing or conflicting Content-Length; an
// unknown or misordered Transfer-Encoding; a bad chunk size) is refused
// before or at the body with the exact 4xx/501 net/http gives: never a
// 5xx from gatehouse, never a token.
func TestRobustnessMalformedFraming(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	form := "Content-Type: application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name  string
		lines []string
		body  string
		want  int
	}{
		{"non-numeric length", []string{"Content-Length: abc"}, "a=b&c", 400},
		{"negative length", []string{"Content-Length: -5"}, "a=b&c", 400},
		{"two different lengths", []string{"Content-Length: 5", "Content-Length: 6"}, "a=b&c", 400},
		{"length beyond int64", []string{"Content-Length: 99999999999999999999"}, "a=b&c", 400},
		{"unknown coding", []string{"Transfer-Encoding: gzip"}, "a=b&c", 501},
		{"chunked not last", []string{"Transfer-Encoding: chunked, identity"}, "a=b&c", 501},
		{"bad chunk size", []string{"Transfer-Encoding: chunked"}, "zz\r\nabc\r\n0\r\n\r\n", 400},
	} {
		resp, raw := rbRaw(t, in.URL, http.MethodPost, rbRequest(in.URL, http.MethodPost, "/oauth2/token", append(tc.lines, form)...)+tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d (body %.200s)", tc.name, resp.StatusCode, tc.want, raw)
		}
		if strings.Contains(string(raw), "access_token") {
			t.Errorf("%s: a token was issued", tc.name)
		}
	}
}

// TestRobustnessRequestSmugglingCloses proves that a request carrying both
// Content-Length and Transfer-Encoding: chunked cannot carry a second,
// pipelined request on the same connection: RFC 9112 §6.1 lets the server
// process it by Transfer-Encoding alone but requires it to close the
// connection after responding, so that a front proxy that framed the
// message by Content-Length cannot be desynchronised (CL.TE smuggling).
// Here chunked ends the body after "ab=cd", Content-Length after 4 bytes,
// and what follows the chunked body is a second request.
func TestRobustnessRequestSmugglingCloses(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	form := "Content-Type: application/x-www-form-urlencoded"
	conn, err := net.Dial("tcp", rbAddr(in.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	smuggled := "GET /rb-smuggled HTTP/1.1\r\nHost: x\r\nX-Request-Id: rb-smuggled\r\n\r\n"
	_, _ = io.WriteString(conn, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"+form+"\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nab=cd\r\n0\r\n\r\n"+smuggled)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatalf("CL+TE request: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Errorf("CL+TE request: %d", resp.StatusCode)
	}
	if second, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet}); err == nil {
		second.Body.Close()
		t.Errorf("CL+TE request: the connection stayed open and served the smuggled request (%d)", second.StatusCode)
	}
	if in.Logs.Contains("path=/rb-smuggled") {
		t.Errorf("the smuggled request was served")
	}
}

// TestRobustnessHugeHeaders proves the 64 KiB header limit on both
// listeners: one huge header, very many headers, and a huge query string
// (the request line counts) are refused by net/http with exactly 431
// before any handler runs; a query just under the limit reaches the
// handlers and is answered with a 4xx or a 200, never a 5xx.
func TestRobustnessHugeHeaders(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	big := strings.Repeat("a", 128<<10)
	many := make([]string, 0, 8000)
	for i := range 8000 {
		many = append(many, fmt.Sprintf("X-Pad-%d: %s", i, strings.Repeat("b", 16)))
	}
	for _, base := range []string{in.URL, in.Admin} {
		for name, raw := range map[string]string{
			"one 128 KiB header": rbRequest(base, http.MethodGet, "/health/alive", "X-Big: "+big),
			"8000 headers":       rbRequest(base, http.MethodGet, "/health/alive", many...),
			"128 KiB query":      rbRequest(base, http.MethodGet, "/oauth2/auth?client_id="+big),
			"128 KiB cookie":     rbRequest(base, http.MethodGet, "/login", "Cookie: gh_device="+big),
			"128 KiB path":       rbRequest(base, http.MethodGet, "/t/"+big+"/x"),
		} {
			resp, body := rbRaw(t, base, http.MethodGet, raw)
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%s %s: %d, want 431 (body %.200s)", base, name, resp.StatusCode, body)
			}
		}
	}

	// Just under the limit: handled, never a 5xx.
	q := strings.Repeat("c", 48<<10)
	for _, target := range []string{
		"/oauth2/auth?client_id=" + q,
		"/oauth2/auth?response_type=code&client_id=x&redirect_uri=http%3A%2F%2F127.0.0.1%2F&state=" + q,
		"/.well-known/openid-configuration?x=" + q,
		"/login?flow=" + q,
		"/consent?flow=" + q,
		"/t/" + q + "/x",
		"/userinfo?access_token=" + q,
	} {
		resp, body := rbRaw(t, in.URL, http.MethodGet, rbRequest(in.URL, http.MethodGet, target))
		if resp.StatusCode >= 500 {
			t.Errorf("GET %.60s… (48 KiB): %d %.200s", target, resp.StatusCode, body)
		}
		if strings.Contains(string(body), q) {
			t.Errorf("GET %.60s…: the 48 KiB input is reflected in the answer", target)
		}
	}
}

// rbHTTPServers returns the *http.Server of the public and the admin
// listener. The timeouts are not configuration but fields of the server
// (server.go, httpServer); reading them beats waiting 15 to 120 seconds.
func rbHTTPServers(t *testing.T, in *servertest.Instance) map[string]reflect.Value {
	t.Helper()
	v := reflect.ValueOf(in.Server).Elem()
	out := map[string]reflect.Value{}
	for _, name := range []string{"public", "admin"} {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Type() != reflect.TypeFor[*http.Server]() || f.IsNil() {
			t.Fatalf("server.Server has no *http.Server field %q any more; update this test", name)
		}
		out[name] = f.Elem()
	}
	return out
}

// TestRobustnessServerLimitsConfigured proves both listeners have every
// timeout and the header limit set, each below a sane bound (a zero means
// "no limit" in net/http: one slow client per connection forever).
func TestRobustnessServerLimitsConfigured(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	for name, srv := range rbHTTPServers(t, in) {
		for field, bound := range map[string]time.Duration{
			"ReadHeaderTimeout": 10 * time.Second,
			"ReadTimeout":       60 * time.Second,
			"WriteTimeout":      2 * time.Minute,
			"IdleTimeout":       5 * time.Minute,
		} {
			d := time.Duration(srv.FieldByName(field).Int())
			if d <= 0 || d > bound {
				t.Errorf("%s listener: %s = %s, want set and at most %s", name, field, d, bound)
			}
		}
		if mh := srv.FieldByName("MaxHeaderBytes").Int(); mh <= 0 || mh > 1<<20 {
			t.Errorf("%s listener: MaxHeaderBytes = %d, want set and at most 1 MiB", name, mh)
		}
	}
}

// TestRobustnessSlowClients proves that the read-header timeout cuts
// connections whose request head never completes, on both listeners: a
// connection that sends nothing, one that stops mid-header, and one that
// trickles a byte every 200 ms. Each must be closed by the server (no
// reply: net/http drops it) within ReadHeaderTimeout plus a 3 s margin; the
// test waits for the server, it does not sleep to assert.
func TestRobustnessSlowClients(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	servers := rbHTTPServers(t, in)
	for _, listener := range []string{"public", "admin"} {
		base := in.URL
		if listener == "admin" {
			base = in.Admin
		}
		timeout := time.Duration(servers[listener].FieldByName("ReadHeaderTimeout").Int())
		if timeout <= 0 || timeout > 10*time.Second {
			t.Fatalf("%s: ReadHeaderTimeout %s: not testable by waiting", listener, timeout)
		}
		for _, mode := range []string{"silent", "partial head", "trickle"} {
			t.Run(listener+"/"+mode, func(t *testing.T) {
				t.Parallel()
				conn, err := net.Dial("tcp", rbAddr(base))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				start := time.Now()
				deadline := start.Add(timeout + 3*time.Second)
				_ = conn.SetDeadline(deadline)
				closed := make(chan error, 1)
				go func() {
					_, err := io.ReadAll(conn) // returns when the server closes
					closed <- err
				}()
				switch mode {
				case "partial head":
					_, _ = io.WriteString(conn, "GET /health/alive HTTP/1.1\r\nHost: x\r\nX-Slow: ")
				case "trickle":
					head := "GET /health/alive HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Slow: 1\r\n", 100)
				trickle:
					for i := 0; i < len(head); i++ {
						if _, err := conn.Write([]byte{head[i]}); err != nil {
							break // closed by the server
						}
						select {
						case <-closed:
							closed <- nil
							break trickle
						case <-time.After(200 * time.Millisecond):
						}
					}
				}
				err = <-closed
				elapsed := time.Since(start)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("%s connection still open after %s (ReadHeaderTimeout %s)", mode, elapsed.Round(time.Millisecond), timeout)
				}
				if elapsed < timeout-500*time.Millisecond {
					t.Errorf("%s connection closed after %s, before ReadHeaderTimeout %s: %v", mode, elapsed, timeout, err)
				}
			})
		}
	}
}

// rbTenants creates tenant acme (enabled, with keys) and gone (disabled).
func rbTenants(t *testing.T, in *servertest.Instance) {
	t.Helper()
	ctx := storagetest.Ctx(t)
	if err := in.Store().CreateTenant(ctx, storage.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := in.Services().Provider.Keys.Ensure(tenant.With(ctx, "acme")); err != nil {
		t.Fatal(err)
	}
	if err := in.Store().CreateTenant(ctx, storage.Tenant{ID: "gone", Name: "Gone", Disabled: true}); err != nil {
		t.Fatal(err)
	}
}

// TestRobustnessRouting proves the routing contract of the public
// listener (docs/architecture.md "Requests", docs/errors.md): an unknown
// path is 404 NOT_FOUND and a known path with another method 405
// METHOD_NOT_ALLOWED with the exact Allow list, both as the JSON envelope
// (also for page paths, by the web fallback); HEAD is served where GET is
// and OPTIONS is 405; trailing slashes and case variants are unknown paths;
// unclean paths (//, /../, %2e%2e) are redirected to their clean form and
// never served as such; the tenant router answers TENANT_NOT_FOUND for
// unknown, disabled, default and malformed tenant ids, and a tenant prefix
// inside a tenant path is just an unknown path.
func TestRobustnessRouting(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{})
		rbTenants(t, in)
		cases := []struct {
			method, target string
			status         int
			code, allow    string
		}{
			{"GET", "/no/such/path", 404, "NOT_FOUND", ""},
			{"GET", "/", 404, "NOT_FOUND", ""},
			{"POST", "/no/such/path", 404, "NOT_FOUND", ""},
			{"GET", "/oauth2/token", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"PUT", "/oauth2/token", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"HEAD", "/oauth2/token", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"OPTIONS", "/oauth2/token", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"GET", "/oauth2/introspect", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"GET", "/oauth2/revoke", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"DELETE", "/userinfo", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
			{"PUT", "/oauth2/auth", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
			{"POST", "/.well-known/openid-configuration", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
			{"OPTIONS", "/.well-known/openid-configuration", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
			{"DELETE", "/.well-known/jwks.json", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
			{"PATCH", "/login", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
			{"PUT", "/consent", 405, "METHOD_NOT_ALLOWED", "GET, HEAD, POST"},
			{"TRACE", "/oauth2/token", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"FOO", "/oauth2/token", 405, "METHOD_NOT_ALLOWED", "POST"},
			{"GET", "/oauth2/token/", 404, "NOT_FOUND", ""},
			{"POST", "/oauth2/token/", 404, "NOT_FOUND", ""},
			{"GET", "/.well-known/openid-configuration/", 404, "NOT_FOUND", ""},
			{"GET", "/login/", 404, "NOT_FOUND", ""},
			{"POST", "/OAUTH2/TOKEN", 404, "NOT_FOUND", ""},
			{"GET", "/.WELL-KNOWN/openid-configuration", 404, "NOT_FOUND", ""},
			{"GET", "/Login", 404, "NOT_FOUND", ""},
			// Tenants.
			{"GET", "/t/unknown/.well-known/openid-configuration", 404, "TENANT_NOT_FOUND", ""},
			{"POST", "/t/unknown/oauth2/token", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/gone/.well-known/openid-configuration", 404, "TENANT_NOT_FOUND", ""},
			{"POST", "/t/gone/oauth2/token", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/.well-known/oauth-authorization-server/t/gone", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/.well-known/oauth-authorization-server/t/unknown", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/default/.well-known/openid-configuration", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/ACME/.well-known/openid-configuration", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/Acme/.well-known/openid-configuration", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/T/acme/.well-known/openid-configuration", 404, "NOT_FOUND", ""},
			{"GET", "/t/", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t", 404, "NOT_FOUND", ""},
			{"GET", "/t/acme", 404, "NOT_FOUND", ""},
			{"GET", "/t/acme/", 404, "NOT_FOUND", ""},
			{"GET", "/t/acme/t/acme/.well-known/openid-configuration", 404, "NOT_FOUND", ""},
			{"POST", "/t/acme/t/acme/oauth2/token", 404, "NOT_FOUND", ""},
			{"GET", "/t/acme/t/unknown/x", 404, "NOT_FOUND", ""},
			{"GET", "/t/ac%20me/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/acme%00/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/%C3%A1cme/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/ac_me/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/ac.me/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/-acme/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/acme-/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/acme'--/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/%27%20OR%201=1--/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/" + strings.Repeat("a", 64) + "/x", 404, "TENANT_NOT_FOUND", ""},
			{"GET", "/t/" + strings.Repeat("a", 63) + "/x", 404, "TENANT_NOT_FOUND", ""}, // valid syntax, no such tenant
			{"GET", "/t/..%2Facme/x", 404, "TENANT_NOT_FOUND", ""},
		}
		for _, tc := range cases {
			what := tc.method + " " + tc.target
			resp, raw := rbRaw(t, in.URL, tc.method, rbRequest(in.URL, tc.method, tc.target))
			rbWantCatalog(t, what, resp, raw, tc.status, tc.code)
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("%s: Allow %q, want %q", what, got, tc.allow)
			}
		}

		// HEAD where GET is served: same status and headers, no body.
		for _, target := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json", "/t/acme/.well-known/openid-configuration"} {
			resp, raw := rbRaw(t, in.URL, http.MethodHead, rbRequest(in.URL, http.MethodHead, target))
			if resp.StatusCode != 200 || len(raw) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("HEAD %s: %d %q body %d bytes", target, resp.StatusCode, resp.Header.Get("Content-Type"), len(raw))
			}
		}

		// The tenant's own endpoints work, with its issuer.
		resp, raw := rbDo(t, http.MethodGet, in.URL+"/t/acme/.well-known/openid-configuration", nil)
		if resp.StatusCode != 200 || rbJSON(raw)["issuer"] != in.URL+"/t/acme" {
			t.Errorf("acme discovery: %d issuer %v", resp.StatusCode, rbJSON(raw)["issuer"])
		}
		resp, raw = rbDo(t, http.MethodGet, in.URL+"/.well-known/oauth-authorization-server/t/acme", nil)
		if resp.StatusCode != 200 || rbJSON(raw)["issuer"] != in.URL+"/t/acme" {
			t.Errorf("acme RFC 8414 metadata: %d issuer %v", resp.StatusCode, rbJSON(raw)["issuer"])
		}

		// Unclean paths of the default tenant: ServeMux's 307 (method kept)
		// to the clean path, never the content at the unclean one. Encoded
		// dots are not dot segments to the mux (it matches the escaped
		// path): 404 NOT_FOUND.
		for _, tc := range []struct {
			method, target, clean string
		}{
			{"GET", "//.well-known/openid-configuration", "/.well-known/openid-configuration"},
			{"GET", "/oauth2/../.well-known/openid-configuration", "/.well-known/openid-configuration"},
			{"GET", "/./.well-known/openid-configuration", "/.well-known/openid-configuration"},
			{"GET", "/x/../t/acme/.well-known/openid-configuration", "/t/acme/.well-known/openid-configuration"},
			{"GET", "/.well-known//openid-configuration", "/.well-known/openid-configuration"},
			{"POST", "//oauth2/token", "/oauth2/token"},
			{"GET", "/oauth2/%2e%2e/.well-known/openid-configuration", ""},
			{"GET", "/oauth2/%2E%2E/oauth2/%2e%2e/.well-known/jwks.json", ""},
			{"POST", "/oauth2/%2e%2e/oauth2/token", ""},
		} {
			what := tc.method + " " + tc.target
			resp, raw := rbRaw(t, in.URL, tc.method, rbRequest(in.URL, tc.method, tc.target, "Content-Length: 0"))
			if tc.clean == "" {
				rbWantCatalog(t, what, resp, raw, 404, "NOT_FOUND")
				continue
			}
			if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != tc.clean {
				t.Errorf("%s: %d Location %q, want 307 to %s (body %.200s)", what, resp.StatusCode, resp.Header.Get("Location"), tc.clean, raw)
			}
		}
		// Dot segments cannot climb out of an unknown or disabled tenant
		// into a served one: the tenant is judged on the path as sent.
		for _, target := range []string{"/t/unknown/../acme/.well-known/openid-configuration", "/t/gone/%2e%2e/acme/x", "/t/default/../../.well-known/openid-configuration"} {
			resp, raw := rbRaw(t, in.URL, http.MethodGet, rbRequest(in.URL, http.MethodGet, target))
			rbWantCatalog(t, "GET "+target, resp, raw, 404, "TENANT_NOT_FOUND")
		}
	})
}

// TestRobustnessTenantPathCleaningKeepsTenant proves that an unclean path
// under a tenant (/t/acme//…, /t/acme/./…, /t/acme/x/../…) is never
// redirected into the default tenant: the clean-path redirect must keep
// the /t/acme prefix (or the request must be refused). A relying party
// whose issuer is configured with a trailing slash builds exactly
// "…/t/acme//.well-known/openid-configuration".
func TestRobustnessTenantPathCleaningKeepsTenant(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{})
		rbTenants(t, in)
		for _, target := range []string{
			"/t/acme//.well-known/openid-configuration",
			"/t/acme/./.well-known/openid-configuration",
			"/t/acme/oauth2/../.well-known/openid-configuration",
			"/t/acme/oauth2/%2e%2e/login",
			"/t/acme//oauth2/auth?client_id=x",
			"POST /t/acme//oauth2/token",
		} {
			method := http.MethodGet
			if m, p, ok := strings.Cut(target, " "); ok {
				method, target = m, p
			}
			resp, raw := rbRaw(t, in.URL, method, rbRequest(in.URL, method, target, "Content-Length: 0"))
			loc := resp.Header.Get("Location")
			switch {
			case resp.StatusCode >= 300 && resp.StatusCode < 400 && !strings.HasPrefix(loc, "/t/acme/"):
				followed := ""
				if strings.HasSuffix(loc, "openid-configuration") {
					_, doc := rbDo(t, http.MethodGet, in.URL+loc, nil)
					followed = fmt.Sprintf("; following it, a relying party of acme reads issuer %v", rbJSON(doc)["issuer"])
				}
				t.Errorf("%s %s: %d redirect to %q, out of tenant acme (into the default tenant)%s", method, target, resp.StatusCode, loc, followed)
			case resp.StatusCode >= 500:
				t.Errorf("%s %s: %d %.200s", method, target, resp.StatusCode, raw)
			}
		}
	})
}

// rbFaultStore makes chosen store calls panic or fail, to provoke the
// server's last-resort error paths: GetTenant("boom") and
// GetClient("panicclient") panic, GetTenant("oops") and
// GetClient("errclient") fail with an unexpected error whose text must
// never reach a client, GetTenant("down") is unavailable.
type rbFaultStore struct {
	storage.Store
}

const rbSecretText = "pq: relation rb_secret_table_9f3c does not exist at 10.1.2.3:5432"

func (f rbFaultStore) GetTenant(ctx context.Context, id string) (storage.Tenant, error) {
	switch id {
	case "boom":
		panic("rb-panic-value " + rbSecretText)
	case "oops":
		return storage.Tenant{}, errors.New(rbSecretText)
	case "down":
		return storage.Tenant{}, fmt.Errorf("%s: %w", rbSecretText, storage.ErrUnavailable)
	}
	return f.Store.GetTenant(ctx, id)
}

func (f rbFaultStore) GetFlow(ctx context.Context, id string) (storage.Flow, error) {
	if id == "rbboom" {
		return storage.Flow{}, errors.New(rbSecretText)
	}
	return f.Store.GetFlow(ctx, id)
}

func (f rbFaultStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	switch id {
	case "panicclient":
		panic("rb-panic-value " + rbSecretText)
	case "errclient":
		return storage.Client{}, errors.New(rbSecretText)
	}
	return f.Store.GetClient(ctx, id)
}

// rbNoLeak asserts that an error body carries none of the internal text.
func rbNoLeak(t *testing.T, what string, raw []byte) {
	t.Helper()
	for _, s := range []string{"rb-panic-value", "rb_secret_table", "10.1.2.3", "goroutine ", ".go:", "runtime/debug", "panic"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("%s: body leaks %q: %.400s", what, s, raw)
		}
	}
}

// TestRobustnessPanicRecovery proves the last-resort error paths of the
// JSON surface: a panic in a handler is a 500 INTERNAL envelope whose
// details.request_id is the X-Request-Id of the response (so support can
// find the log line, which carries the stack), an unexpected error is the
// same 500 INTERNAL, an unavailable store is 503 SERVICE_UNAVAILABLE with
// Retry-After; on a page, an unexpected error or a panic is the 500 error page with
// data-error-code INTERNAL showing the request id; none of them shows the
// panic value, the error text or a stack; and the server keeps serving.
func TestRobustnessPanicRecovery(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{
			WrapStore: func(s storage.Store) storage.Store { return rbFaultStore{s} }})
		for _, tc := range []struct {
			target string
			status int
			code   string
		}{
			{"/t/boom/.well-known/openid-configuration", 500, "INTERNAL"},
			{"/t/oops/.well-known/openid-configuration", 500, "INTERNAL"},
			{"/t/down/.well-known/openid-configuration", 503, "SERVICE_UNAVAILABLE"},
		} {
			resp, raw := rbDo(t, http.MethodGet, in.URL+tc.target, nil, "X-Request-Id", "rb-"+tc.code)
			rbWantCatalog(t, tc.target, resp, raw, tc.status, tc.code)
			rbNoLeak(t, tc.target, raw)
			id := resp.Header.Get("X-Request-Id")
			if id != "rb-"+tc.code {
				t.Errorf("%s: X-Request-Id %q, want the one sent", tc.target, id)
			}
			body := rbJSON(raw)
			details, _ := body["error"].(map[string]any)["details"].(map[string]any)
			switch tc.status {
			case 500:
				if details["request_id"] != id {
					t.Errorf("%s: details %v, want request_id %q", tc.target, details, id)
				}
			case 503:
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s: 503 without Retry-After", tc.target)
				}
			}
			line := rbAccessLog(t, in, id)
			if !strings.Contains(line, "status="+fmt.Sprint(tc.status)) {
				t.Errorf("%s: access log %q lacks the status", tc.target, line)
			}
		}
		// The HTML surface: the error page with data-error-code INTERNAL,
		// the request id shown to the user, nothing internal.
		resp, raw := rbDo(t, http.MethodGet, in.URL+"/login?flow=rbboom", nil,
			"Cookie", "gh_device="+strings.Repeat("d", 43), "X-Request-Id", "rb-page-500")
		rbWantPage(t, "login page with a failing store", resp, raw, 500, "INTERNAL")
		rbNoLeak(t, "login page with a failing store", raw)
		if !strings.Contains(string(raw), "rb-page-500") || resp.Header.Get("X-Request-Id") != "rb-page-500" {
			t.Errorf("500 page does not show its request id: %.400s", raw)
		}
		// A panic on a page a browser was sent to is the error page too,
		// not JSON the user cannot read.
		authz := "/oauth2/auth?response_type=code&client_id=panicclient&redirect_uri=" + url.QueryEscape("https://app.example/cb") +
			"&scope=openid&state=s12345678&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S256"
		resp, raw = rbDo(t, http.MethodGet, in.URL+authz, nil, "X-Request-Id", "rb-page-recovered")
		rbWantPage(t, "authorization with a panicking store", resp, raw, 500, "INTERNAL")
		rbNoLeak(t, "authorization with a panicking store", raw)
		if !strings.Contains(string(raw), "rb-page-recovered") {
			t.Errorf("500 page after a panic does not show its request id: %.400s", raw)
		}
		// A panic while resolving the tenant: the protocol's JSON endpoints
		// still answer RFC 6749 JSON, the pages still a page.
		for _, target := range []string{"/t/boom/oauth2/token", "/t/boom/oauth2/introspect", "/t/boom/oauth2/revoke", "/t/boom/userinfo"} {
			resp, raw := rbDo(t, http.MethodPost, in.URL+target, strings.NewReader("grant_type=client_credentials"),
				"Content-Type", "application/x-www-form-urlencoded")
			if body := rbJSON(raw); resp.StatusCode != 500 || body["error"] != "server_error" || body["error_code"] != "INTERNAL" {
				t.Errorf("%s with a panicking tenant lookup: %d %s, want 500 RFC 6749 server_error", target, resp.StatusCode, raw)
			}
			rbNoLeak(t, target, raw)
		}
		resp, raw = rbDo(t, http.MethodGet, in.URL+"/t/boom/login?flow=x", nil)
		rbWantPage(t, "login page with a panicking tenant lookup", resp, raw, 500, "INTERNAL")
		rbNoLeak(t, "login page with a panicking tenant lookup", raw)
		if !in.Logs.Contains("panic serving request") || !in.Logs.Contains("request_id=rb-INTERNAL") {
			t.Errorf("the panic was not logged with its request id")
		}
		// Still serving, on both listeners.
		if resp, _ := rbDo(t, http.MethodGet, in.URL+"/.well-known/openid-configuration", nil); resp.StatusCode != 200 {
			t.Errorf("discovery after the panic: %d", resp.StatusCode)
		}
		if in.ReadyStatus() != 200 {
			t.Errorf("not ready after the panic")
		}
	})
}

// TestRobustnessProtocolInternalErrors proves the last-resort error paths
// of the protocol surface: docs/errors.md requires /oauth2/* to answer
// exactly RFC 6749 JSON. A panic while authenticating the client at the
// token endpoint, and an unexpected store error there, must both be
// 500 {"error":"server_error","error_code":"INTERNAL"} with an X-Request-Id
// and no internal text, not the JSON API envelope (whose "error" is an
// object no OAuth client can read) and not a 401 invalid_client (which
// blames the client's credentials for the server's failure).
func TestRobustnessProtocolInternalErrors(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{
		WrapStore: func(s storage.Store) storage.Store { return rbFaultStore{s} }})
	for _, id := range []string{"panicclient", "errclient"} {
		for _, endpoint := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			form := "grant_type=client_credentials&token=gh_at_x"
			resp, raw := rbDo(t, http.MethodPost, in.URL+endpoint, strings.NewReader(form),
				"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+rbBasic(id, "s3cret"))
			what := fmt.Sprintf("POST %s as %s", endpoint, id)
			rbWantProtocol(t, what, resp, raw, http.StatusInternalServerError, "server_error", "INTERNAL")
			rbNoLeak(t, what, raw)
		}
	}
}

// TestRobustnessRequestID proves the request id contract of both
// listeners: absent, a random 32-hex id is generated (a new one each
// time); a sane one ([A-Za-z0-9._-]{1,64}) is echoed exactly once; any
// other value (too long, spaces, CR/LF smuggled through header folding,
// non-ASCII, raw high bytes, percent-encoded CRLF, an injected header) is
// replaced by a generated id, never echoed, and never written to the log,
// whose access line stays one line. A newline in the path cannot forge a
// log line either.
func TestRobustnessRequestID(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	for _, base := range []string{in.URL, in.Admin} {
		seen := map[string]bool{}
		for range 3 {
			resp, _ := rbDo(t, http.MethodGet, base+"/health/alive", nil)
			id := resp.Header.Get("X-Request-Id")
			if !rbGeneratedID.MatchString(id) || seen[id] {
				t.Errorf("%s: generated request id %q (seen before: %v)", base, id, seen[id])
			}
			seen[id] = true
		}
		for _, sane := range []string{"abc-123", "A.b_C-9", strings.Repeat("z", 64), "0"} {
			resp, _ := rbDo(t, http.MethodGet, base+"/health/alive", nil, "X-Request-Id", sane)
			if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != sane {
				t.Errorf("%s: sane id %q answered with %q", base, sane, got)
			}
		}
	}

	// Hostile ids, sent raw (net/http's client refuses most of them).
	hostile := map[string]string{
		"65 characters":     "X-Request-Id: " + strings.Repeat("y", 65),
		"4 KiB":             "X-Request-Id: " + strings.Repeat("y", 4096),
		"space":             "X-Request-Id: rb evil id",
		"folded CRLF":       "X-Request-Id: rbfold\r\n Injected-Header: rbinjected",
		"non-ASCII":         "X-Request-Id: rb-caf\u00e9-\u202e",
		"high bytes":        "X-Request-Id: rb-\xff\xfe",
		"encoded CRLF":      "X-Request-Id: rb%0d%0aSet-Cookie:%20rbinjected=1",
		"JSON breaker":      `X-Request-Id: rb"},"x":"`,
		"log key injection": "X-Request-Id: rb request_id=rbforged",
		"tab":               "X-Request-Id: rb\tevil",
		"empty":             "X-Request-Id: ",
	}
	for name, line := range hostile {
		for base, status := range map[string]int{in.URL: 404, in.Admin: 200} {
			resp, raw := rbRaw(t, base, http.MethodGet, rbRequest(base, http.MethodGet, "/health/alive", line))
			if resp.StatusCode != status {
				t.Errorf("%s %s: %d, want %d (body %.200s)", base, name, resp.StatusCode, status, raw)
			}
			got := resp.Header.Values("X-Request-Id")
			if len(got) != 1 || !rbGeneratedID.MatchString(got[0]) {
				t.Errorf("%s %s: X-Request-Id %q, want one generated id", base, name, got)
			}
			if resp.Header.Get("Injected-Header") != "" || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("%s %s: injected header in the response: %v", base, name, resp.Header)
			}
		}
	}
	logs := in.Logs.String()
	for _, s := range []string{"rbinjected", "rbforged", "rb evil", strings.Repeat("y", 65), "rbfold", "caf\u00e9"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains the hostile request id part %q", s)
		}
	}

	// A newline in the path (%0a) is data inside one quoted log value.
	resp, _ := rbRaw(t, in.URL, http.MethodGet, rbRequest(in.URL, http.MethodGet, "/x%0alevel=ERROR%20msg=rbforgedline", "X-Request-Id: rb-path-nl"))
	if resp.StatusCode != 404 {
		t.Errorf("path with %%0a: %d", resp.StatusCode)
	}
	line := rbAccessLog(t, in, "rb-path-nl")
	if !strings.Contains(line, "rbforgedline") {
		t.Errorf("access line %q does not hold the path", line)
	}
	for _, l := range strings.Split(in.Logs.String(), "\n") {
		if strings.HasPrefix(l, "level=ERROR msg=rbforgedline") {
			t.Errorf("a forged log line was written: %q", l)
		}
	}
}

// rbHeaderTransport adds fixed headers (and Host) to every request and
// records every Set-Cookie the server sends.
type rbHeaderTransport struct {
	host    string
	headers map[string]string
	mu      sync.Mutex
	cookies []string
}

func (h *rbHeaderTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	if h.host != "" {
		r.Host = h.host
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		h.mu.Lock()
		h.cookies = append(h.cookies, resp.Header.Values("Set-Cookie")...)
		h.mu.Unlock()
	}
	return resp, err
}

// rbSpoof are the forwarding headers an attacker sends.
func rbSpoof() map[string]string {
	return map[string]string{
		"X-Forwarded-For":   "203.0.113.7",
		"X-Real-Ip":         "203.0.113.8",
		"X-Forwarded-Host":  "evil.example",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Port":  "443",
		"X-Original-Url":    "/t/acme/login",
		"X-Rewrite-Url":     "/t/acme/login",
		"Forwarded":         "for=203.0.113.9;host=evil.example;proto=https",
	}
}

// rbCheckIssuer asserts that discovery names the configured issuer and
// only endpoints under it.
func rbCheckIssuer(t *testing.T, what string, raw []byte, issuer string) {
	t.Helper()
	doc := rbJSON(raw)
	if doc["issuer"] != issuer {
		t.Errorf("%s: issuer %v, want %s", what, doc["issuer"], issuer)
	}
	for k, v := range doc {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "http") && !strings.HasPrefix(s, issuer+"/") && s != issuer {
			t.Errorf("%s: %s = %s, outside the issuer", what, k, s)
		}
	}
	if strings.Contains(string(raw), "evil.example") {
		t.Errorf("%s: forwarded host or scheme reflected: %.300s", what, raw)
	}
}

// TestRobustnessForwardedHeadersUntrusted proves that forwarding headers
// (Host, X-Forwarded-*, Forwarded, X-Real-Ip, X-Original-Url) from a peer
// that is not a configured proxy change nothing: discovery keeps the
// configured issuer and endpoints; a whole sign-in sent with them ends at
// the client with iss = the configured issuer; every redirect inside
// gatehouse is relative or under the issuer; cookies stay those of an
// http issuer (no Secure, no __Host-); the access log records the peer's
// address, not a forwarded one; and no event records a forwarded address.
func TestRobustnessForwardedHeadersUntrusted(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{})
		spoof := rbSpoof()
		hdr := []string{"Host", "evil.example"}
		for k, v := range spoof {
			hdr = append(hdr, k, v)
		}
		resp, raw := rbDo(t, http.MethodGet, in.URL+"/.well-known/openid-configuration", nil, append(hdr, "X-Request-Id", "rb-fwd-disc")...)
		if resp.StatusCode != 200 {
			t.Fatalf("discovery with forwarded headers: %d %s", resp.StatusCode, raw)
		}
		rbCheckIssuer(t, "discovery with forwarded headers", raw, in.URL)
		line := rbAccessLog(t, in, "rb-fwd-disc")
		if !strings.Contains(line, "remote_addr=127.0.0.1 ") || strings.Contains(line, "203.0.113.") {
			t.Errorf("access log with spoofed forwarding headers: %q, want remote_addr=127.0.0.1", line)
		}
		// The path served is the request's, not X-Original-Url's.
		if !strings.Contains(line, "path=/.well-known/openid-configuration ") {
			t.Errorf("access log path: %q", line)
		}

		// A whole sign-in with the spoofed headers on every request.
		const email, password = "fwd@example.com", "correct horse battery staple"
		in.CreateUser(t, in.Ctx(), email, password)
		redirect := "http://127.0.0.1:9999/callback"
		c, _ := in.CreateClient(t, in.Ctx(), provider.ClientSpec{Name: "Fwd", RedirectURIs: []string{redirect}, Scopes: []string{"openid"}})
		verifier := oauth2.GenerateVerifier()
		q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirect}, "scope": {"openid"},
			"state": {"rb-state-123456"}, "nonce": {"rb-nonce-123456"}, "code_challenge_method": {"S256"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}}
		b := servertest.NewBrowser(in.URL)
		tr := &rbHeaderTransport{host: "evil.example", headers: spoof}
		b.Client.Transport = tr
		var hops []string
		b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			hops = append(hops, req.URL.String())
			if !strings.HasPrefix(req.URL.String(), in.URL) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		res, err := b.Authorize(in.URL+"/oauth2/auth?"+q.Encode(), servertest.Steps{Email: email, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		if res.Redirect == nil {
			t.Fatalf("sign-in with forwarded headers did not reach the client: page %+v", res.Page)
		}
		if got := res.Redirect.Query().Get("iss"); got != in.URL {
			t.Errorf("authorization response iss = %q, want %q", got, in.URL)
		}
		if !strings.HasPrefix(res.Redirect.String(), redirect+"?") {
			t.Errorf("sent to %s, want the registered redirect URI", res.Redirect)
		}
		for _, h := range hops {
			if strings.Contains(h, "evil.example") || strings.HasPrefix(h, "https://") {
				t.Errorf("redirect to %s: built from forwarded headers", h)
			}
		}
		tr.mu.Lock()
		cookies := tr.cookies
		tr.mu.Unlock()
		if len(cookies) == 0 {
			t.Fatal("no cookies set during sign-in")
		}
		for _, ck := range cookies {
			lc := strings.ToLower(ck)
			if strings.HasPrefix(ck, "__Host-") || strings.HasPrefix(ck, "__Secure-") || strings.Contains(lc, "; secure") || strings.Contains(lc, "domain=") {
				t.Errorf("cookie %q: changed by X-Forwarded-Proto/Host on an http issuer", ck)
			}
		}
		evs, err := in.Store().ListEvents(in.Ctx(), storage.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Error("no events recorded by the sign-in")
		}
		for _, e := range evs {
			if strings.Contains(string(e.Data), "203.0.113.") || strings.Contains(string(e.Data), "evil.example") {
				t.Errorf("event %s records a forwarded value: %s", e.Type, e.Data)
			}
		}
		if strings.Contains(in.Logs.String(), "remote_addr=203.0.113.") {
			t.Errorf("a forwarded address was logged as the client's")
		}
	})
}

// TestRobustnessForwardedHeadersTrusted proves the documented behaviour
// behind a configured proxy (GATEHOUSE_TRUSTED_PROXIES, web.ClientIP): the
// client address is the right-most X-Forwarded-For hop that is not itself
// a trusted proxy (several header lines are one list; IPv6 is kept); a
// right-most hop that is not an address stops the walk at the proxy (a
// client-chosen left part is never taken); and even from a trusted proxy,
// Host / X-Forwarded-Host / X-Forwarded-Proto do not change the issuer.
func TestRobustnessForwardedHeadersTrusted(t *testing.T) {
	cfg := servertest.Config(t, "sqlite")
	cfg.TrustedProxies = []string{"127.0.0.0/8", "10.0.0.0/8"}
	in := servertest.Start(t, cfg, servertest.Options{})
	for i, tc := range []struct {
		xff  []string
		want string
	}{
		{[]string{"203.0.113.7"}, "203.0.113.7"},
		{[]string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{[]string{"198.51.100.1, 203.0.113.7, 10.1.1.1"}, "203.0.113.7"},
		{[]string{"198.51.100.1", "203.0.113.7"}, "203.0.113.7"},
		{[]string{"2001:db8::1"}, "2001:db8::1"},
		{[]string{"198.51.100.1, not-an-ip"}, "127.0.0.1"},
		{[]string{"10.2.2.2, 127.0.0.9"}, "127.0.0.1"},
		{nil, "127.0.0.1"},
	} {
		id := fmt.Sprintf("rb-trusted-%d", i)
		lines := []string{"X-Request-Id: " + id}
		for _, x := range tc.xff {
			lines = append(lines, "X-Forwarded-For: "+x)
		}
		resp, _ := rbRaw(t, in.URL, http.MethodGet, rbRequest(in.URL, http.MethodGet, "/.well-known/openid-configuration", lines...))
		if resp.StatusCode != 200 {
			t.Errorf("%v: %d", tc.xff, resp.StatusCode)
		}
		if line := rbAccessLog(t, in, id); !strings.Contains(line, " remote_addr="+tc.want+" ") {
			t.Errorf("X-Forwarded-For %q from a trusted proxy: %q, want remote_addr=%s", tc.xff, line, tc.want)
		}
	}
	resp, raw := rbDo(t, http.MethodGet, in.URL+"/.well-known/openid-configuration", nil,
		"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example;proto=https")
	if resp.StatusCode != 200 {
		t.Fatalf("discovery: %d", resp.StatusCode)
	}
	rbCheckIssuer(t, "discovery via a trusted proxy", raw, in.URL)
}

// rbMetricLabels parses the label sets of one metric from the Prometheus
// text format.
func rbMetricLabels(text, metric string) []map[string]string {
	re := regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)
	var out []map[string]string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		labels := map[string]string{}
		for _, m := range re.FindAllStringSubmatch(line[len(metric):strings.LastIndex(line, "}")+1], -1) {
			labels[m[1]] = m[2]
		}
		out = append(out, labels)
	}
	return out
}

// TestRobustnessAdminListener proves the admin surface: /health/alive and
// /health/ready are JSON with no-store; /metrics is Prometheus text whose
// labels carry only route patterns, standard methods and status codes,
// never a path, query, token, client id or secret sent to the public
// listener; /debug/pprof is absent (404 NOT_FOUND) unless enabled; the
// admin listener serves nothing of the public surface and the public
// listener nothing of the admin one.
func TestRobustnessAdminListener(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	for _, path := range []string{"/health/alive", "/health/ready"} {
		resp, raw := rbDo(t, http.MethodGet, in.Admin+path, nil)
		body := rbJSON(raw)
		if resp.StatusCode != 200 || body["status"] != "ok" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, raw)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, cc)
		}
	}
	_, raw := rbDo(t, http.MethodGet, in.Admin+"/health/ready", nil)
	if checks, _ := rbJSON(raw)["checks"].(map[string]any); checks["database"] != "ok" || checks["migrations"] != "ok" {
		t.Errorf("ready checks: %s", raw)
	}

	// Feed the public listener secrets in every place a label could take
	// them from, then scrape.
	c, secret := rbClientCredentials(t, in)
	rbDo(t, http.MethodPost, in.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=api%3Aread"),
		"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic "+rbBasic(c.ID, secret))
	rbDo(t, http.MethodGet, in.URL+"/userinfo?access_token=gh_at_rbsecretquery", nil, "Authorization", "Bearer gh_at_rbsecretbearer")
	rbDo(t, http.MethodGet, in.URL+"/gh_rt_rbsecretpath/x?code=gh_ac_rbsecretcode", nil, "X-Request-Id", "rbsecretrequestid")
	rbDo(t, http.MethodGet, in.URL+"/t/rbsecrettenant/x", nil)
	resp, raw := rbDo(t, http.MethodGet, in.Admin+"/metrics", nil)
	text := string(raw)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range []string{secret, c.ID, "rbsecret", "gh_at_", "gh_rt_", "gh_ac_", "Basic "} {
		if strings.Contains(text, s) {
			t.Errorf("metrics contain %q", s)
		}
	}
	series := rbMetricLabels(text, "gatehouse_http_requests_total")
	if len(series) == 0 {
		t.Fatalf("no gatehouse_http_requests_total series:\n%.2000s", text)
	}
	for _, l := range series {
		if l["listener"] != "public" && l["listener"] != "admin" {
			t.Errorf("listener label %q", l["listener"])
		}
		if r := l["route"]; r != "unmatched" && r != "/" && !strings.Contains(r, " /") {
			t.Errorf("route label %q is not a route pattern", r)
		}
	}
	if !slices.ContainsFunc(series, func(l map[string]string) bool {
		return l["listener"] == "public" && l["route"] == "POST /oauth2/token" && l["code"] == "200"
	}) {
		t.Errorf("no series for the token request: %v", series)
	}

	// pprof is off by default, on neither listener.
	for _, base := range []string{in.Admin, in.URL} {
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
			resp, raw := rbDo(t, http.MethodGet, base+path, nil)
			rbWantCatalog(t, base+path+" (pprof off)", resp, raw, 404, "NOT_FOUND")
		}
	}
	// No public surface on the admin listener.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/.well-known/openid-configuration"}, {"GET", "/.well-known/jwks.json"},
		{"GET", "/oauth2/auth"}, {"POST", "/oauth2/token"}, {"POST", "/oauth2/introspect"},
		{"POST", "/oauth2/revoke"}, {"GET", "/userinfo"}, {"GET", "/login"}, {"POST", "/consent"},
		{"GET", "/oauth2/sessions/logout"}, {"GET", "/static/style.css"}, {"GET", "/t/acme/.well-known/openid-configuration"},
		{"GET", "/.well-known/oauth-authorization-server"},
	} {
		resp, raw := rbRaw(t, in.Admin, tc.method, rbRequest(in.Admin, tc.method, tc.path, "Content-Length: 0"))
		rbWantCatalog(t, "admin "+tc.method+" "+tc.path, resp, raw, 404, "NOT_FOUND")
	}
	// No admin surface on the public listener.
	for _, path := range []string{"/health/alive", "/health/ready", "/metrics", "/debug/pprof/"} {
		resp, raw := rbDo(t, http.MethodGet, in.URL+path, nil)
		rbWantCatalog(t, "public GET "+path, resp, raw, 404, "NOT_FOUND")
		if strings.Contains(string(raw), "gatehouse_http_requests_total") || strings.Contains(string(raw), `"checks"`) {
			t.Errorf("public %s serves admin content", path)
		}
	}
	// Wrong methods on the admin listener.
	for path, allow := range map[string]string{"/health/alive": "GET, HEAD", "/health/ready": "GET, HEAD", "/metrics": "GET, HEAD"} {
		resp, raw := rbDo(t, http.MethodPost, in.Admin+path, nil)
		rbWantCatalog(t, "admin POST "+path, resp, raw, 405, "METHOD_NOT_ALLOWED")
		if got := resp.Header.Get("Allow"); got != allow {
			t.Errorf("admin POST %s: Allow %q, want %q", path, got, allow)
		}
	}
}

// TestRobustnessPprofEnabled proves GATEHOUSE_PPROF=true serves pprof on
// the admin listener only: the index and a profile answer 200 there and
// the public listener still answers 404 NOT_FOUND.
func TestRobustnessPprofEnabled(t *testing.T) {
	cfg := servertest.Config(t, "sqlite")
	cfg.Pprof = true
	in := servertest.Start(t, cfg, servertest.Options{})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"} {
		resp, raw := rbDo(t, http.MethodGet, in.Admin+path, nil)
		if resp.StatusCode != 200 || len(raw) == 0 {
			t.Errorf("admin %s with pprof on: %d", path, resp.StatusCode)
		}
		resp, raw = rbDo(t, http.MethodGet, in.URL+path, nil)
		rbWantCatalog(t, "public "+path+" (pprof on)", resp, raw, 404, "NOT_FOUND")
	}
}

// TestRobustnessMetricsMethodLabelBounded proves that a client cannot
// choose label values of the public request counter: net/http accepts any
// token as a method, so the method label must be mapped onto a fixed set
// (as promhttp does since CVE-2022-21698); otherwise every made-up method
// is a new time series held forever (memory exhaustion of the process and
// of Prometheus) and any text, a token included, lands in the metrics.
func TestRobustnessMetricsMethodLabelBounded(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	for i := range 50 {
		m := fmt.Sprintf("RBMETHOD%02dGHATSECRET", i)
		resp, raw := rbRaw(t, in.URL, m, rbRequest(in.URL, m, "/oauth2/token"))
		rbWantCatalog(t, m+" /oauth2/token", resp, raw, 405, "METHOD_NOT_ALLOWED")
	}
	_, raw := rbDo(t, http.MethodGet, in.Admin+"/metrics", nil)
	methods := map[string]bool{}
	for _, l := range rbMetricLabels(string(raw), "gatehouse_http_requests_total") {
		methods[l["method"]] = true
	}
	if strings.Contains(string(raw), "GHATSECRET") || len(methods) > 12 {
		t.Errorf("method label takes client-chosen values: %d distinct methods in gatehouse_http_requests_total (e.g. RBMETHOD00GHATSECRET present: %v)",
			len(methods), methods["RBMETHOD00GHATSECRET"])
	}
}

// TestRobustnessOutageShapes: a request refused before it reaches its
// endpoint because the database is not there (the readiness gate while
// starting, the tenant lookup during an outage) still answers in the
// endpoint's shape (docs/errors.md SERVICE_UNAVAILABLE: "On OAuth2
// endpoints: temporarily_unavailable (503)"; ERRORS.md: protocol clients
// read RFC 6749 JSON, pages show the error page), with Retry-After.
func TestRobustnessOutageShapes(t *testing.T) {
	proxy, dsn := storagetest.NewProxy(t, storagetest.PostgresDSN(t))
	proxy.SetDown(true)
	cfg := servertest.Config(t, "sqlite")
	cfg.DSN = dsn
	in := servertest.Start(t, cfg, servertest.Options{NoWait: true})
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	check := func(when, prefix string) {
		t.Helper()
		for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			resp, raw := rbDo(t, http.MethodPost, in.URL+prefix+path, strings.NewReader("token=x&grant_type=client_credentials"), form...)
			rbWantProtocol(t, when+" POST "+prefix+path, resp, raw, http.StatusServiceUnavailable, "temporarily_unavailable", "SERVICE_UNAVAILABLE")
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s POST %s%s: no Retry-After", when, prefix, path)
			}
		}
		resp, raw := rbDo(t, http.MethodGet, in.URL+prefix+"/userinfo", nil, "Authorization", "Bearer gh_at_x")
		rbWantProtocol(t, when+" GET "+prefix+"/userinfo", resp, raw, http.StatusServiceUnavailable, "temporarily_unavailable", "SERVICE_UNAVAILABLE")
		for _, path := range []string{"/oauth2/auth?client_id=x", "/login?flow=x", "/consent?flow=x", "/oauth2/sessions/logout"} {
			resp, raw := rbDo(t, http.MethodGet, in.URL+prefix+path, nil)
			rbWantPage(t, when+" GET "+prefix+path, resp, raw, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s GET %s%s: no Retry-After", when, prefix, path)
			}
		}
		resp, raw = rbDo(t, http.MethodGet, in.URL+prefix+"/.well-known/openid-configuration", nil)
		rbWantCatalog(t, when+" discovery", resp, raw, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	}
	time.Sleep(300 * time.Millisecond)
	check("starting", "")

	proxy.SetDown(false)
	in.WaitReady(t, 30*time.Second)
	rbTenants(t, in)
	proxy.SetDown(true)
	check("outage, tenant lookup", "/t/acme")
	proxy.SetDown(false)
	in.WaitReady(t, 30*time.Second)
}
