package provider_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"golang.org/x/oauth2"
)

// Two gatehouse replicas on one database, behind a round-robin load
// balancer (SECURITY.md, Reliability: "any number of replicas behind round
// robin, no sticky sessions"). Both replicas have the same GATEHOUSE_SECRET,
// the same DSN and the same issuer: the balancer's URL. Both backends run:
// two SQLite stores on one WAL file is what two processes on one host do
// (BEGIN IMMEDIATE plus the busy timeout serialise their writers; the
// in-process writer queue is per store), so it is a deployment to test too.

// repClientCacheBound is the documented bound on a client change reaching
// another replica (docs/architecture.md: "Parsed client records are cached
// for at most 1 second"); repSlack absorbs one request's latency (a record
// read just before a commit is cached as of the end of that read) and a
// slow -race run. Polls never wait past bound + slack.
const (
	repClientCacheBound = time.Second
	repKeyReloadBound   = time.Second // "an unknown kid forces a reload (at most once a second)"
	repSlack            = 500 * time.Millisecond
)

// repBalancer is a round-robin reverse proxy on 127.0.0.1: every request
// goes to the next replica in turn, whatever its cookies say. It keeps the
// Host header (the issuer's), as a load balancer does, and records which
// replica served each request.
type repBalancer struct {
	URL   string
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	names   []string
	targets []*url.URL
	next    int
	hops    []repHop
}

// repHop is one request the balancer forwarded.
type repHop struct{ Replica, Method, Path string }

func (h repHop) String() string { return h.Replica + " " + h.Method + " " + h.Path }

type repTargetKey struct{}

func newRepBalancer(t *testing.T) *repBalancer {
	t.Helper()
	lb := &repBalancer{}
	lb.proxy = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(pr.In.Context().Value(repTargetKey{}).(*url.URL))
		pr.Out.Host = pr.In.Host
	}}
	srv := httptest.NewServer(lb)
	t.Cleanup(srv.Close) // registered first: runs after the replicas stopped
	lb.URL = srv.URL
	return lb
}

func (lb *repBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.mu.Lock()
	if len(lb.targets) == 0 {
		lb.mu.Unlock()
		http.Error(w, "no replica yet", http.StatusBadGateway)
		return
	}
	i := lb.next % len(lb.targets)
	lb.next++
	target := lb.targets[i]
	lb.hops = append(lb.hops, repHop{lb.names[i], r.Method, r.URL.Path})
	lb.mu.Unlock()
	lb.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), repTargetKey{}, target)))
}

func (lb *repBalancer) add(name, base string) {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.names, lb.targets = append(lb.names, name), append(lb.targets, u)
}

// turnTo makes replica i serve the next request; the rotation goes on
// from there.
func (lb *repBalancer) turnTo(i int) {
	lb.mu.Lock()
	lb.next = i
	lb.mu.Unlock()
}

// mark is the position in the hop log; since returns the hops after it.
func (lb *repBalancer) mark() int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return len(lb.hops)
}

func (lb *repBalancer) since(m int) []repHop {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return slices.Clone(lb.hops[m:])
}

// repSet is replicas A and B of one gatehouse behind the balancer, with a
// user and a confidential client, and a relying party that knows only the
// issuer (the balancer).
type repSet struct {
	t      *testing.T
	lb     *repBalancer
	a, b   *servertest.Instance
	issuer string
	user   storage.User
	client storage.Client
	secret string
	rp     *rp
}

func newRepSet(t *testing.T, backend string) *repSet {
	t.Helper()
	lb := newRepBalancer(t)
	cfg := servertest.Config(t, backend) // one fresh database and servertest.Secret
	cfg.Issuer = lb.URL
	a := servertest.Start(t, cfg, servertest.Options{})
	b := servertest.Start(t, cfg, servertest.Options{}) // same DSN, secret, issuer
	if a.Config.DSN != b.Config.DSN || a.Config.Issuer != lb.URL || b.Config.Issuer != lb.URL ||
		!slices.Equal(a.Config.Secret, b.Config.Secret) || a.URL == b.URL {
		t.Fatalf("replicas not configured alike: A %s %s, B %s %s", a.URL, a.Config.Issuer, b.URL, b.Config.Issuer)
	}
	lb.add("A", a.URL)
	lb.add("B", b.URL)
	r := &repSet{t: t, lb: lb, a: a, b: b, issuer: lb.URL}
	r.user = a.CreateUser(t, a.Ctx(), email, password)
	r.client, r.secret = a.CreateClient(t, a.Ctx(), provider.ClientSpec{
		Name: "Test App", RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{logoutURI},
		Scopes: []string{"openid", "profile", "email", "offline_access"},
	})
	r.rp = (&env{t: t}).newRP(r.client, r.secret, lb.URL)
	return r
}

// name is "A" or "B" for a replica's base URL.
func (r *repSet) name(base string) string {
	if base == r.a.URL {
		return "A"
	}
	return "B"
}

// codeOf checks a successful authorization response and returns its code.
func (r *repSet) codeOf(res servertest.Result, a authRequest) string {
	r.t.Helper()
	if res.Redirect == nil {
		r.t.Fatalf("authorization ended on page %q (%d %s), want a redirect to the client", res.Page.Name, res.Page.Status, res.Page.ErrorCode)
	}
	q := res.Redirect.Query()
	if !strings.HasPrefix(res.Redirect.String(), redirectURI+"?") || q.Get("error") != "" || q.Get("code") == "" {
		r.t.Fatalf("authorization response %s", res.Redirect)
	}
	if q.Get("state") != a.state || q.Get("iss") != r.issuer {
		r.t.Fatalf("authorization response state=%q iss=%q, want %q and the balancer's %q", q.Get("state"), q.Get("iss"), a.state, r.issuer)
	}
	return q.Get("code")
}

// code authorizes through the balancer with browser b (signing in and
// consenting if asked) and returns the code.
func (r *repSet) code(b *servertest.Browser, a authRequest) string {
	r.t.Helper()
	res, err := b.Authorize(a.url, servertest.Steps{Email: email, Password: password})
	if err != nil {
		r.t.Fatalf("authorize: %v", err)
	}
	return r.codeOf(res, a)
}

// repTokens are the tokens of one grant.
type repTokens struct{ access, refresh, id string }

// exchange redeems code at base (a replica, or the balancer).
func (r *repSet) exchange(base, code, verifier string) repTokens {
	r.t.Helper()
	resp, body := post(r.t, base+"/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}, r.client.ID, r.secret)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("code exchange at %s: %d %v", base, resp.StatusCode, body)
	}
	return r.tokensOf(body)
}

func (r *repSet) tokensOf(body map[string]any) repTokens {
	r.t.Helper()
	tok := repTokens{}
	tok.access, _ = body["access_token"].(string)
	tok.refresh, _ = body["refresh_token"].(string)
	tok.id, _ = body["id_token"].(string)
	if tok.access == "" || tok.refresh == "" || tok.id == "" {
		r.t.Fatalf("token response without access, refresh or ID token: %v", body)
	}
	return tok
}

// grant authorizes through the balancer and exchanges the code there.
func (r *repSet) grant(b *servertest.Browser) repTokens {
	r.t.Helper()
	a := r.rp.request()
	return r.exchange(r.issuer, r.code(b, a), a.verifier)
}

func (r *repSet) refresh(base, rt string) (*http.Response, map[string]any) {
	r.t.Helper()
	return post(r.t, base+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, r.client.ID, r.secret)
}

func (r *repSet) introspect(base, token string) (*http.Response, map[string]any) {
	r.t.Helper()
	return post(r.t, base+"/oauth2/introspect", url.Values{"token": {token}}, r.client.ID, r.secret)
}

func (r *repSet) userinfo(base, at string) bearerResponse {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	return callUserinfo(r.t, req)
}

// wantInactive: introspection at base answers exactly {"active":false}.
func (r *repSet) wantInactive(what, base, token string) {
	r.t.Helper()
	resp, body := r.introspect(base, token)
	if resp.StatusCode != http.StatusOK || body["active"] != false || len(body) != 1 {
		r.t.Errorf("%s: introspection at %s = %d %v, want 200 {\"active\":false}", what, r.name(base), resp.StatusCode, body)
	}
}

// wantUserinfoRefused: userinfo at base is 401 invalid_token (RFC 6750).
func (r *repSet) wantUserinfoRefused(what, base, at string) {
	r.t.Helper()
	if u := r.userinfo(base, at); u.status != http.StatusUnauthorized || u.error != "invalid_token" || !strings.Contains(u.www, `error="invalid_token"`) {
		r.t.Errorf("%s: userinfo at %s = %d %q (WWW-Authenticate %q), want 401 invalid_token", what, r.name(base), u.status, u.error, u.www)
	}
}

// wantRefreshRefused: a refresh at base is 400 invalid_grant with code.
func (r *repSet) wantRefreshRefused(what, base, rt, code string) {
	r.t.Helper()
	resp, body := r.refresh(base, rt)
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || body["error_code"] != code || body["access_token"] != nil {
		r.t.Errorf("%s: refresh at %s = %d %v, want 400 invalid_grant %s", what, r.name(base), resp.StatusCode, body, code)
	}
}

// repNoFollow is a client without cookies that does not follow redirects.
var repNoFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// logoutWithHint asks replica base to end the session with id_token_hint
// (no cookie: nothing to confirm) and returns the status, the Location and
// the page's error code.
func (r *repSet) logoutWithHint(base, hint string) (status int, location, errorCode string) {
	r.t.Helper()
	u := base + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURI}, "state": {"bye-state"}}.Encode()
	resp, err := repNoFollow.Get(u)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if _, rest, ok := strings.Cut(string(raw), `data-error-code="`); ok {
		errorCode, _, _ = strings.Cut(rest, `"`)
	}
	return resp.StatusCode, resp.Header.Get("Location"), errorCode
}

// wantLogoutRedirect: the hint is accepted at base: 303 to the registered
// post_logout_redirect_uri with the state.
func (r *repSet) wantLogoutRedirect(what, base, hint string) {
	r.t.Helper()
	if status, loc, code := r.logoutWithHint(base, hint); status != http.StatusSeeOther || loc != logoutURI+"?state=bye-state" {
		r.t.Errorf("%s: logout at %s with id_token_hint = %d Location %q (page error %q), want 303 to %s", what, r.name(base), status, loc, code, logoutURI)
	}
}

// repPoll calls try until it reports done or the deadline passes, and
// returns how long after since it was done. try's other answers must be
// the tolerated stale one (checked by try); it is an error to still be
// stale at the deadline.
func repPoll(t *testing.T, what string, since, deadline time.Time, try func() (done bool, answer string)) time.Duration {
	t.Helper()
	last := ""
	for {
		done, answer := try()
		if done {
			return time.Since(since)
		}
		last = answer
		if time.Now().After(deadline) {
			t.Errorf("%s: still %s %s after the change (documented bound %s + %s slack)", what, last, time.Since(since).Round(time.Millisecond), deadline.Sub(since)-repSlack, repSlack)
			return time.Since(since)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplicasRoundRobinSignIn proves that a whole sign-in works when every
// request lands on the other replica than the one before (strict round
// robin, no stickiness): authorization (answered with the login page) on A,
// login POST on B, consent page on A, consent POST on B, code exchange on
// A, userinfo on B, refresh on A, refresh again on B, introspection on A,
// revocation on B (the hop log is asserted exactly). Then, with no waiting (no cache sits
// on the token path), both replicas see the revocation: introspection of
// the access and refresh token is exactly {"active":false}, userinfo is 401
// invalid_token, refresh is 400 invalid_grant INVALID_REFRESH_TOKEN. The ID
// token carries the shared issuer and verifies with either replica's JWKS.
func TestReplicasRoundRobinSignIn(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		r := newRepSet(t, backend)
		lb := r.lb
		b := servertest.NewBrowser(lb.URL)
		a := r.rp.request()
		authPath := strings.TrimPrefix(r.rp.oauth.Endpoint.AuthURL, lb.URL)

		lb.turnTo(0)
		m := lb.mark()
		res, err := b.Get(a.url) // A: authorization, answered with the login page
		if err != nil || res.Page == nil || res.Page.Name != "login" || res.Page.Status != http.StatusOK || res.Page.ErrorCode != "" {
			t.Fatalf("first page = %+v, %v; want the login page", res.Page, err)
		}
		res, err = b.Post(lb.URL+"/login", url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}})
		if err != nil || res.Page == nil || res.Page.Name != "consent" || res.Page.Status != http.StatusOK || res.Page.ErrorCode != "" {
			t.Fatalf("after the login POST on B = %+v %+v, %v; want the consent page (from A)", res.Page, res.Redirect, err)
		}
		res, err = b.Post(lb.URL+"/consent", url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "decision": {"allow"}})
		if err != nil {
			t.Fatal(err)
		}
		code := r.codeOf(res, a)

		resp, body := post(t, lb.URL+"/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "code_verifier": {a.verifier}}, r.client.ID, r.secret)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("code exchange = %d %v (Cache-Control %q)", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
		}
		tok0 := r.tokensOf(body)
		if u := r.userinfo(lb.URL, tok0.access); u.status != http.StatusOK || u.body["sub"] != r.user.ID || u.body["email"] != email {
			t.Fatalf("userinfo = %d %v", u.status, u.body)
		}
		resp, body = r.refresh(lb.URL, tok0.refresh)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh = %d %v", resp.StatusCode, body)
		}
		tok1 := r.tokensOf(body)
		resp, body = r.refresh(lb.URL, tok1.refresh)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("second refresh = %d %v", resp.StatusCode, body)
		}
		tok2 := r.tokensOf(body)
		resp, body = r.introspect(lb.URL, tok2.access)
		if resp.StatusCode != http.StatusOK || body["active"] != true || body["sub"] != r.user.ID || body["client_id"] != r.client.ID || body["iss"] != r.issuer {
			t.Fatalf("introspection = %d %v", resp.StatusCode, body)
		}
		resp, _ = post(t, lb.URL+"/oauth2/revoke", url.Values{"token": {tok2.refresh}}, r.client.ID, r.secret)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revocation = %d, want 200", resp.StatusCode)
		}

		want := []repHop{
			{"A", "GET", authPath}, {"B", "POST", "/login"}, {"A", "GET", "/consent"}, {"B", "POST", "/consent"},
			{"A", "POST", "/oauth2/token"}, {"B", "GET", "/userinfo"}, {"A", "POST", "/oauth2/token"}, {"B", "POST", "/oauth2/token"},
			{"A", "POST", "/oauth2/introspect"}, {"B", "POST", "/oauth2/revoke"},
		}
		if got := lb.since(m); !slices.Equal(got, want) {
			t.Fatalf("hops:\n%v\nwant:\n%v", got, want)
		}

		// Revoked on A: B sees it at once, and so does A.
		for _, base := range []string{r.b.URL, r.a.URL} {
			r.wantInactive("revoked grant's access token", base, tok2.access)
			r.wantInactive("revoked refresh token", base, tok2.refresh)
			r.wantUserinfoRefused("revoked grant's access token", base, tok2.access)
			r.wantRefreshRefused("revoked refresh token", base, tok2.refresh, "INVALID_REFRESH_TOKEN")
		}

		for _, base := range []string{r.a.URL, r.b.URL} {
			_, claims := verifyJWT(t, base, tok0.id)
			if claims["iss"] != r.issuer || claims["sub"] != r.user.ID || claims["nonce"] != a.nonce {
				t.Errorf("ID token verified with %s's JWKS: claims %v", r.name(base), claims)
			}
		}
	})
}

// TestReplicasKeyRotation proves that a signing-key rotation on replica A
// needs no coordination with B. Rotate(RS256, force) on A promotes the key
// that was already published as "next", so right after it (no waiting):
// B's JWKS holds both the retired key and the new one; an ID token signed
// before and one signed by A after verify with B's JWKS (and through the
// balancer with go-oidc); the new ID token works as id_token_hint at B both
// at authorization (prompt=none: a code, served by B) and at logout (303 to
// the registered URI); an ID token B signs right after the rotation (its
// key cache may still name the old key, for ≤ 10 s) verifies with A's JWKS.
// A second forced rotation makes A sign with a key B has never loaded: B
// must reload on the unknown kid and accept it as id_token_hint within the
// documented bound ("an unknown kid forces a reload (at most once a
// second)"), polled, and then publish it in its JWKS.
func TestReplicasKeyRotation(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		r := newRepSet(t, backend)
		ctx := r.a.Ctx()
		keysA, keysB := r.a.Services().Provider.Keys, r.b.Services().Provider.Keys
		nextKey := func() string {
			t.Helper()
			rows, err := r.a.Store().ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range rows {
				if k.Alg == provider.RS256 && k.State == storage.KeyNext {
					return k.KID
				}
			}
			t.Fatal("no next RS256 key")
			return ""
		}
		b := servertest.NewBrowser(r.issuer)
		a := r.rp.request()
		before := r.exchange(r.a.URL, r.code(b, a), a.verifier)
		kid1 := kidOf(t, before.id)
		if active, _ := keysB.ActiveKID(r.b.Ctx(), provider.RS256); active != kid1 { // B's key cache is loaded
			t.Fatalf("B signs with %s, A signed with %s", active, kid1)
		}
		next := nextKey()

		activated, retired, err := keysA.Rotate(ctx, provider.RS256, true)
		if err != nil || activated != next || retired != kid1 {
			t.Fatalf("Rotate on A = %s, %s, %v; want %s, %s", activated, retired, err, next, kid1)
		}

		jwksB := fetchJWKS(t, r.b.URL)
		if len(jwksB.Key(kid1)) != 1 || len(jwksB.Key(next)) != 1 {
			t.Errorf("B's JWKS right after the rotation: retired %s in it: %v, new active %s in it: %v", kid1, len(jwksB.Key(kid1)) == 1, next, len(jwksB.Key(next)) == 1)
		}
		a = r.rp.request()
		after := r.exchange(r.a.URL, r.code(b, a), a.verifier) // signed by A
		if kid := kidOf(t, after.id); kid != next {
			t.Fatalf("A signed after the rotation with %s, want %s", kid, next)
		}
		verifyJWT(t, r.b.URL, before.id)
		verifyJWT(t, r.b.URL, after.id)
		fresh := (&env{t: t}).newRP(r.client, r.secret, r.issuer) // JWKS fetched now, through the balancer
		for name, raw := range map[string]string{"before": before.id, "after": after.id} {
			if _, err := fresh.verifier.Verify(fresh.ctx, raw); err != nil {
				t.Errorf("ID token signed %s the rotation, verified through the balancer: %v", name, err)
			}
		}

		// A's new ID token as id_token_hint at B, at once.
		a = r.rp.request(oauth2.SetAuthURLParam("id_token_hint", after.id), oauth2.SetAuthURLParam("prompt", "none"))
		r.lb.turnTo(1)
		m := r.lb.mark()
		res, err := b.Get(a.url)
		if err != nil {
			t.Fatal(err)
		}
		hintCode := r.codeOf(res, a)
		if hops := r.lb.since(m); len(hops) != 1 || hops[0].Replica != "B" {
			t.Fatalf("hint authorization served by %v, want B alone", hops)
		}
		byB := r.exchange(r.b.URL, hintCode, a.verifier)
		if kid := kidOf(t, byB.id); kid != kid1 && kid != next {
			t.Errorf("B signed after the rotation with %s, want %s or (cached ≤ 10 s) %s", kid, next, kid1)
		} else {
			t.Logf("B's first ID token after the rotation on A: signed with the %s key", map[bool]string{true: "retired (B's cached)", false: "new active"}[kid == kid1])
		}
		verifyJWT(t, r.a.URL, byB.id)
		r.wantLogoutRedirect("ID token signed by A after the rotation", r.b.URL, after.id)
		r.wantLogoutRedirect("ID token signed before the rotation", r.b.URL, before.id)

		// A second forced rotation: A signs with the key the first one
		// created, which B has not loaded unless its cache expired since.
		third := nextKey()
		setB, err := keysB.JWKS(r.b.Ctx()) // B's cached keys, not reloaded
		if err != nil {
			t.Fatal(err)
		}
		cachedB := len(setB.Key(third)) == 1
		activated, retired, err = keysA.Rotate(ctx, provider.RS256, true)
		rotated := time.Now()
		if err != nil || activated != third || retired != next {
			t.Fatalf("second Rotate on A = %s, %s, %v; want %s, %s", activated, retired, err, third, next)
		}
		a = r.rp.request()
		latest := r.exchange(r.a.URL, r.code(b, a), a.verifier)
		if kid := kidOf(t, latest.id); kid != third {
			t.Fatalf("A signed after the second rotation with %s, want %s", kid, third)
		}
		took := repPoll(t, "ID token with a kid new to B as id_token_hint at B", rotated, rotated.Add(repKeyReloadBound+repSlack), func() (bool, string) {
			status, loc, code := r.logoutWithHint(r.b.URL, latest.id)
			switch {
			case status == http.StatusSeeOther && loc == logoutURI+"?state=bye-state":
				return true, ""
			case status == http.StatusBadRequest && code == "INVALID_TOKEN": // B has not reloaded yet
				return false, "refused (400 INVALID_TOKEN)"
			default:
				t.Fatalf("logout with hint at B = %d %q %q, want 303 or (before the reload) 400 INVALID_TOKEN", status, loc, code)
				return false, ""
			}
		})
		t.Logf("B accepted a kid it had not loaded (in B's cache before: %v) %s after the rotation", cachedB, took.Round(time.Millisecond))
		if set, err := keysB.JWKS(r.b.Ctx()); err != nil || len(set.Key(third)) != 1 {
			t.Errorf("B's JWKS after it verified a token of key %s does not publish it (%v)", third, err)
		}
	})
}

// TestReplicasClientSecretRotation proves that a client secret rotated on
// replica A (Clients.RotateSecret) stops working on B within the
// documented client cache bound (docs/architecture.md: client records are
// cached for at most 1 s; other replicas within that second): B has the
// client cached with the old secret just before the rotation; on A the old
// secret is refused at once (401 invalid_client) and the new one accepted;
// on B, polled, the old secret is refused and the new one accepted no later
// than 1 s (+ slack) after the rotation, and the only answer before that is
// the stale one. Afterwards on both replicas: the old secret is 401
// invalid_client with a Basic challenge at the token endpoint and the
// client's refresh token works with the new secret.
func TestReplicasClientSecretRotation(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		r := newRepSet(t, backend)
		tok := r.grant(servertest.NewBrowser(r.issuer))
		authAt := func(base, secret string) (int, map[string]any) {
			resp, body := post(t, base+"/oauth2/introspect", url.Values{"token": {"gh_at_no.such-token"}}, r.client.ID, secret)
			return resp.StatusCode, body
		}
		accepted := func(status int, body map[string]any) bool {
			return status == http.StatusOK && body["active"] == false && len(body) == 1
		}
		refused := func(status int, body map[string]any) bool {
			return status == http.StatusUnauthorized && body["error"] == "invalid_client"
		}
		for _, base := range []string{r.a.URL, r.b.URL} { // both replicas cache the client now
			if s, body := authAt(base, r.secret); !accepted(s, body) {
				t.Fatalf("old secret at %s before the rotation: %d %v", r.name(base), s, body)
			}
		}

		newSecret, err := r.a.Services().Provider.Clients.RotateSecret(r.a.Ctx(), r.client.ID)
		rotated := time.Now()
		if err != nil || newSecret == "" || newSecret == r.secret {
			t.Fatalf("RotateSecret = %q, %v", newSecret, err)
		}
		if s, body := authAt(r.a.URL, r.secret); !refused(s, body) {
			t.Errorf("old secret on A (where it was rotated) = %d %v, want 401 invalid_client at once", s, body)
		}
		if s, body := authAt(r.a.URL, newSecret); !accepted(s, body) {
			t.Errorf("new secret on A = %d %v, want accepted at once", s, body)
		}

		deadline := rotated.Add(repClientCacheBound + repSlack)
		oldGone := repPoll(t, "old secret on B", rotated, deadline, func() (bool, string) {
			s, body := authAt(r.b.URL, r.secret)
			if refused(s, body) {
				return true, ""
			}
			if !accepted(s, body) {
				t.Fatalf("old secret on B = %d %v, want 200 (stale) or 401 invalid_client", s, body)
			}
			return false, "accepted"
		})
		newOn := repPoll(t, "new secret on B", rotated, deadline, func() (bool, string) {
			s, body := authAt(r.b.URL, newSecret)
			if accepted(s, body) {
				return true, ""
			}
			if !refused(s, body) {
				t.Fatalf("new secret on B = %d %v, want 200 or (stale) 401 invalid_client", s, body)
			}
			return false, "refused"
		})
		t.Logf("B: old secret refused %s, new one accepted %s after the rotation on A", oldGone.Round(time.Millisecond), newOn.Round(time.Millisecond))

		for _, base := range []string{r.b.URL, r.a.URL} {
			resp, body := post(t, base+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}}, r.client.ID, r.secret)
			if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("refresh with the old secret at %s = %d %v (WWW-Authenticate %q), want 401 invalid_client", r.name(base), resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
			resp, body = post(t, base+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}}, r.client.ID, newSecret)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("refresh with the new secret at %s = %d %v", r.name(base), resp.StatusCode, body)
			}
			tok = r.tokensOf(body)
		}
	})
}

// TestReplicasSuspension proves that suspending an account (the store's
// SetUserStatus, as an administrator does) is seen by both replicas at
// once, with no cache in between: the browser's session signs no one in
// silently on either replica (prompt=none: login_required back at the
// client; otherwise the login page); for two grants, introspection of their
// access tokens is exactly {"active":false} on A and on B, userinfo is 401
// invalid_token on both, and a refresh is 400 invalid_grant
// ACCOUNT_SUSPENDED on A for one grant and on B for the other. The refused
// refreshes revoked their families for every replica: once the account is
// active again, each refresh token is 400 invalid_grant
// INVALID_REFRESH_TOKEN on the replica that did not refuse it, and the
// access tokens stay inactive there.
func TestReplicasSuspension(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		r := newRepSet(t, backend)
		b := servertest.NewBrowser(r.issuer)
		first, second := r.grant(b), r.grant(b)
		for _, base := range []string{r.a.URL, r.b.URL} {
			for _, tok := range []repTokens{first, second} {
				if resp, body := r.introspect(base, tok.access); resp.StatusCode != http.StatusOK || body["active"] != true {
					t.Fatalf("introspection at %s before the suspension = %d %v", r.name(base), resp.StatusCode, body)
				}
			}
		}
		if err := r.a.Store().SetUserStatus(r.a.Ctx(), r.user.ID, storage.StatusSuspended, "abuse", "admin", nil); err != nil {
			t.Fatal(err)
		}
		for _, base := range []string{r.b.URL, r.a.URL} {
			for _, tok := range []repTokens{first, second} {
				r.wantInactive("suspended account's access token", base, tok.access)
				r.wantUserinfoRefused("suspended account's access token", base, tok.access)
			}
		}
		// The browser's session no longer signs anyone in silently, on
		// either replica.
		for i, name := range []string{"A", "B"} {
			a := r.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
			r.lb.turnTo(i)
			res, err := b.Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect == nil || res.Redirect.Query().Get("error") != "login_required" || res.Redirect.Query().Get("code") != "" ||
				res.Redirect.Query().Get("state") != a.state || res.Redirect.Query().Get("iss") != r.issuer {
				t.Errorf("prompt=none with a suspended account's session at %s: redirect %v page %+v, want login_required", name, res.Redirect, res.Page)
			}
			a = r.rp.request()
			r.lb.turnTo(i)
			res, err = b.Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect != nil || res.Page == nil || res.Page.Name != "login" || res.Page.Status != http.StatusOK {
				t.Errorf("authorization with a suspended account's session at %s: redirect %v page %+v, want the login page", name, res.Redirect, res.Page)
			}
		}
		r.wantRefreshRefused("suspended account", r.b.URL, first.refresh, "ACCOUNT_SUSPENDED")
		r.wantRefreshRefused("suspended account", r.a.URL, second.refresh, "ACCOUNT_SUSPENDED")

		if err := r.b.Store().SetUserStatus(r.b.Ctx(), r.user.ID, storage.StatusActive, "", "admin", nil); err != nil {
			t.Fatal(err)
		}
		r.wantRefreshRefused("family refused on B, account active again", r.a.URL, first.refresh, "INVALID_REFRESH_TOKEN")
		r.wantRefreshRefused("family refused on A, account active again", r.b.URL, second.refresh, "INVALID_REFRESH_TOKEN")
		r.wantInactive("access token of a family refused on B", r.a.URL, first.access)
		r.wantInactive("access token of a family refused on A", r.b.URL, second.access)
		// The account itself works again on both (a new grant).
		fresh := r.grant(b)
		for _, base := range []string{r.a.URL, r.b.URL} {
			if u := r.userinfo(base, fresh.access); u.status != http.StatusOK || u.body["sub"] != r.user.ID {
				t.Errorf("userinfo at %s after reactivation = %d %v", r.name(base), u.status, u.body)
			}
		}
	})
}

// TestReplicasConcurrentRefresh proves refresh rotation is atomic across
// replicas, not only inside one process: in each of several rounds one
// refresh token (of a fresh grant) is sent to A and to B at the same
// instant. As TestConcurrentRefresh asserts for one replica (and
// SECURITY.md: "at most one succeeds, none answers 500"): at most one
// answer is 200 and every other is exactly 400 invalid_grant
// INVALID_REFRESH_TOKEN — never a 5xx. The winner's new refresh token is
// then either usable or revoked with its family (the loser counted as
// reuse), answered as 200 or 400 INVALID_REFRESH_TOKEN, again never a 5xx.
// Rounds where neither request succeeded are counted and must not happen:
// one of two honest attempts has to win. Last, without concurrency: a
// token rotated on A and replayed on B is 400 invalid_grant
// INVALID_REFRESH_TOKEN and ends the family on A too (the newest refresh
// token is refused there, the newest access token inactive).
func TestReplicasConcurrentRefresh(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		r := newRepSet(t, backend)
		b := servertest.NewBrowser(r.issuer)
		bases := []string{r.a.URL, r.b.URL}
		outcomes := map[string]int{}
		for round := range 12 {
			tok := r.grant(b)
			type answer struct {
				status int
				body   map[string]any
			}
			answers := make([]answer, len(bases))
			parallel(len(bases), func(i int) int {
				resp, body := r.refresh(bases[i], tok.refresh)
				answers[i] = answer{resp.StatusCode, body}
				return resp.StatusCode
			})
			winner := -1
			for i, ans := range answers {
				switch {
				case ans.status == http.StatusOK:
					if winner >= 0 {
						t.Errorf("round %d: both replicas rotated one refresh token: %v", round, answers)
					}
					winner = i
				case ans.status == http.StatusBadRequest && ans.body["error"] == "invalid_grant" && ans.body["error_code"] == "INVALID_REFRESH_TOKEN":
				default:
					t.Errorf("round %d: refresh at %s = %d %v, want 200 or 400 invalid_grant INVALID_REFRESH_TOKEN", round, r.name(bases[i]), ans.status, ans.body)
				}
			}
			if winner < 0 {
				outcomes["none won"]++
				t.Errorf("round %d: neither concurrent refresh succeeded: A %d %v, B %d %v", round, answers[0].status, answers[0].body, answers[1].status, answers[1].body)
				continue
			}
			newRT, _ := answers[winner].body["refresh_token"].(string)
			other := bases[1-winner]
			resp, body := r.refresh(other, newRT)
			switch {
			case resp.StatusCode == http.StatusOK:
				outcomes[fmt.Sprintf("%s won, family kept", r.name(bases[winner]))]++
			case resp.StatusCode == http.StatusBadRequest && body["error"] == "invalid_grant" && body["error_code"] == "INVALID_REFRESH_TOKEN":
				outcomes[fmt.Sprintf("%s won, family revoked as reuse", r.name(bases[winner]))]++
			default:
				t.Errorf("round %d: the winner's new refresh token at %s = %d %v", round, r.name(other), resp.StatusCode, body)
			}
		}
		t.Logf("outcomes: %v", outcomes)

		// Not concurrent: a token rotated on A and replayed on B is reuse,
		// and the family ends on both replicas.
		tok := r.grant(b)
		resp, body := r.refresh(r.a.URL, tok.refresh)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh on A = %d %v", resp.StatusCode, body)
		}
		rotated := r.tokensOf(body)
		r.wantRefreshRefused("refresh token rotated on A, replayed", r.b.URL, tok.refresh, "INVALID_REFRESH_TOKEN")
		r.wantRefreshRefused("newest refresh token after a replay on B", r.a.URL, rotated.refresh, "INVALID_REFRESH_TOKEN")
		r.wantInactive("newest access token after a replay on B", r.a.URL, rotated.access)
	})
}
