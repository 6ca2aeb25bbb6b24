package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// TestGrantDispatch checks the per-grant fosites the token endpoint uses:
// each holds exactly the handlers of fosite's full list that serve its
// grant, in the full list's order, and none of another grant's.
func TestGrantDispatch(t *testing.T) {
	store, _ := storagetest.SQLite(t)
	ring, err := keyring.New([]string{benchSecret})
	if err != nil {
		t.Fatal(err)
	}
	p := New(Deps{Store: store, Ring: ring, Log: slog.New(slog.DiscardHandler), Now: time.Now, Issuer: benchIssuer,
		Lifetimes: Lifetimes{AccessToken: time.Hour, RefreshToken: time.Hour, AuthorizationCode: time.Minute, IDToken: time.Hour}})
	ctx := context.Background()
	names := func(grant string) []string {
		var out []string
		for _, h := range p.byGrant[grant].Config.GetTokenEndpointHandlers(ctx) {
			out = append(out, fmt.Sprintf("%T", h))
		}
		return out
	}
	want := map[string][]string{
		GrantAuthorizationCode: {"*oauth2.AuthorizeExplicitGrantHandler", "*openid.OpenIDConnectExplicitHandler", "*pkce.Handler"},
		GrantRefreshToken:      {"*oauth2.RefreshTokenGrantHandler", "*openid.OpenIDConnectRefreshHandler"},
		GrantClientCredentials: {"*oauth2.ClientCredentialsGrantHandler"},
	}
	if len(p.byGrant) != len(want) {
		t.Errorf("%d per-grant fosites, want %d", len(p.byGrant), len(want))
	}
	var all []string
	for _, h := range p.oauth.Config.GetTokenEndpointHandlers(ctx) {
		all = append(all, fmt.Sprintf("%T", h))
	}
	for grant, w := range want {
		got := names(grant)
		if !slices.Equal(slices.Sorted(slices.Values(got)), w) {
			t.Errorf("%s: handlers %v, want %v", grant, got, w)
		}
		// Same relative order as fosite's full list (PKCE and OIDC run
		// around the code handler as fosite composed them).
		i := 0
		for _, name := range all {
			if i < len(got) && name == got[i] {
				i++
			}
		}
		if i != len(got) {
			t.Errorf("%s: handlers %v not in the order of %v", grant, got, all)
		}
	}
}

// TestUserClaimsExactScopes: claims are released by the scopes exactly as
// granted; scope values are case-sensitive (RFC 6749 §3.3), so a grant of
// PROFILE or EMAIL (fosite's Arguments.Has would fold case) releases nothing.
func TestUserClaimsExactScopes(t *testing.T) {
	u := storage.User{ID: "u1", Email: "ada@example.com", Name: "Ada", Phone: "+15550100"}
	if c := userClaims(u, []string{"PROFILE", "EMAIL", "Phone"}); len(c) != 0 {
		t.Errorf("claims for scopes in another case: %v", c)
	}
	c := userClaims(u, []string{"profile", "email", "phone"})
	for _, k := range []string{"name", "email", "phone_number"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claims for profile email phone lack %s: %v", k, c)
		}
	}
}

// TestBearerErrorCode: a bearer refusal carries RFC 6750's error in
// WWW-Authenticate and the body, and the catalog code, when one applies,
// as error_code (ERRORS.md), as userinfo answers for an account that may
// not sign in.
func TestBearerErrorCode(t *testing.T) {
	w := httptest.NewRecorder()
	bearerErrorCode(w, http.StatusUnauthorized, "invalid_token", "The account behind this token cannot sign in.", catalog.AccountSuspended)
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) ||
		body["error"] != "invalid_token" || body["error_code"] != "ACCOUNT_SUSPENDED" {
		t.Errorf("= %d %q %v, want 401 invalid_token with error_code ACCOUNT_SUSPENDED", w.Code, w.Header().Get("WWW-Authenticate"), body)
	}
	w = httptest.NewRecorder()
	bearerError(w, http.StatusUnauthorized, "invalid_token", "x")
	if strings.Contains(w.Body.String(), "error_code") {
		t.Errorf("without a catalog code: %s", w.Body.String())
	}
}
