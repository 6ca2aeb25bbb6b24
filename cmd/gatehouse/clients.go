package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

const clientsAbout = `Registers and manages the OAuth 2.0 / OpenID Connect clients of a tenant.
The client id comes after the flags or among them: gatehouse clients get ID.`

func clientSubcommands() []subcommand {
	return []subcommand{
		{"create", "register a client; prints its id and, once, its secret", runClientsCreate},
		{"list", "list the tenant's clients", runClientsList},
		{"get", "show one client's settings", runClientsGet},
		{"update", "change a client's settings (only the flags given)", runClientsUpdate},
		{"delete", "remove a client with its tokens and consent grants", runClientsDelete},
		{"rotate-secret", "replace a confidential client's secret; the old one stops working", runClientsRotate},
	}
}

func runClients(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "clients", clientsAbout, clientSubcommands(), args)
}

const clientsUsage = `gatehouse clients create|list|get|update|delete|rotate-secret [flags] [ID]

` + clientsAbout

const clientSettingsHelp = `
Repeat --redirect-uri, --post-logout-redirect-uri, --grant-type and
--audience for several values (--grant-type also takes a comma-separated
list). Redirect URIs must be https, http on a loopback host (127.0.0.1,
[::1], localhost) or a native app's private-use scheme
(com.example.app:/callback), and carry no fragment.`

const clientsCreateUsage = `gatehouse clients create --name NAME [flags]

Registers a client of the tenant and prints its client_id and, for a
confidential client, its client_secret. The secret is shown only this once:
only a keyed hash of it is kept (gatehouse clients rotate-secret replaces a
lost one). --json prints {"client_id":"…","client_secret":"…"} and nothing
else (no client_secret for a public client).

Defaults: grant types authorization_code and refresh_token; scopes
"openid profile email phone offline_access" for authorization_code clients,
none otherwise; authentication client_secret_basic (none with --public);
ID tokens signed with RS256; opaque access tokens.
` + clientSettingsHelp + "\n" + adminCommonHelp

const clientsListUsage = `gatehouse clients list [--tenant ID] [--json]

Lists the tenant's clients: id, name, type and grant types. --json prints an
array of client objects (never a secret or its hash).
` + adminCommonHelp

const clientsGetUsage = `gatehouse clients get [flags] ID

Shows the settings of client ID (never its secret or the secret's hash).
` + adminCommonHelp

const clientsUpdateUsage = `gatehouse clients update [flags] ID

Changes the settings of client ID. Only the flags given change; a repeated
flag given replaces the whole list, and giving it once with an empty value
(--audience "") clears it. A client cannot change between public and
confidential; register a new one instead. Prints the client as get does.
` + clientSettingsHelp + "\n" + adminCommonHelp

const clientsDeleteUsage = `gatehouse clients delete [flags] ID

Removes client ID together with its tokens and consent grants.
` + adminCommonHelp

const clientsRotateUsage = `gatehouse clients rotate-secret [flags] ID

Gives confidential client ID a new secret and prints it, once. The old secret
stops working at once (on other replicas within a second). --json prints
{"client_id":"…","client_secret":"…"}.
` + adminCommonHelp

// clientFlags are the settings flags of create and update.
type clientFlags struct {
	name              string
	redirectURIs      stringList
	postLogoutURIs    stringList
	grantTypes        stringList
	scope             string
	audience          stringList
	public            bool
	authMethod        string
	jwksFile          string
	authSigningAlg    string
	idTokenAlg        string
	accessTokenFormat string
	skipConsent       bool
	jwks              json.RawMessage // read from jwksFile
	given             map[string]bool // the flags given on the command line
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.name, "name", "", "the client's display `name` (required for create)")
	fs.Var(&c.redirectURIs, "redirect-uri", "a redirect `URI` (repeatable)")
	fs.Var(&c.postLogoutURIs, "post-logout-redirect-uri", "a post-logout redirect `URI` (repeatable)")
	fs.Var(&c.grantTypes, "grant-type", "authorization_code, refresh_token or client_credentials (repeatable; default authorization_code and refresh_token)")
	fs.StringVar(&c.scope, "scope", "", `the scopes the client may ask for, space separated (e.g. "openid profile email")`)
	fs.Var(&c.audience, "audience", "an `audience` the client may ask tokens for (repeatable)")
	fs.BoolVar(&c.public, "public", false, "a public client (browser or native app): no secret, PKCE, authentication none")
	fs.StringVar(&c.authMethod, "token-endpoint-auth-method", "", "client_secret_basic, client_secret_post, private_key_jwt or none (`method`)")
	fs.StringVar(&c.jwksFile, "jwks", "", "JWK set `file` of the client's public keys, for private_key_jwt")
	fs.StringVar(&c.authSigningAlg, "token-endpoint-auth-signing-alg", "", "the `alg` of the client's private_key_jwt assertions (RS256 if unset, ES256, PS256…)")
	fs.StringVar(&c.idTokenAlg, "id-token-alg", "", "RS256 (default) or ES256: how ID tokens for the client are signed (`alg`)")
	fs.StringVar(&c.accessTokenFormat, "access-token-format", "", "opaque (default) or jwt (`format`)")
	fs.BoolVar(&c.skipConsent, "skip-consent", false, "first-party client: no consent page")
}

// finish records which flags were given and reads the JWK set file.
func (c *clientFlags) finish(fs *flag.FlagSet) error {
	c.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	if c.given["jwks"] && c.jwksFile != "" {
		raw, err := os.ReadFile(c.jwksFile)
		if err != nil {
			return fmt.Errorf("--jwks: %w", err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return fmt.Errorf("--jwks %s: not JSON: %v", c.jwksFile, err)
		}
		c.jwks = buf.Bytes()
	}
	return nil
}

// apply sets on spec what was given.
func (c *clientFlags) apply(s *provider.ClientSpec) {
	g := c.given
	if g["name"] {
		s.Name = c.name
	}
	if g["redirect-uri"] {
		s.RedirectURIs = c.redirectURIs.list()
	}
	if g["post-logout-redirect-uri"] {
		s.PostLogoutRedirectURIs = c.postLogoutURIs.list()
	}
	if g["grant-type"] {
		s.GrantTypes = []string{}
		for _, v := range c.grantTypes.list() {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					s.GrantTypes = append(s.GrantTypes, p)
				}
			}
		}
	}
	if g["scope"] {
		s.Scopes = append([]string{}, strings.Fields(c.scope)...)
	}
	if g["audience"] {
		s.Audience = c.audience.list()
	}
	if g["public"] {
		s.Public = c.public
	}
	if g["token-endpoint-auth-method"] {
		s.AuthMethod = c.authMethod
	}
	if g["jwks"] {
		s.JWKS = c.jwks // nil for --jwks "": no keys
	}
	if g["token-endpoint-auth-signing-alg"] {
		s.AuthSigningAlg = c.authSigningAlg
	}
	if g["id-token-alg"] {
		s.IDTokenAlg = c.idTokenAlg
	}
	if g["access-token-format"] {
		s.AccessTokenFormat = c.accessTokenFormat
	}
	if g["skip-consent"] {
		s.SkipConsent = c.skipConsent
	}
}

// settingsGiven reports whether any settings flag was given.
func (c *clientFlags) settingsGiven() bool {
	for name := range c.given {
		switch name {
		case "config", "dev", "tenant", "json":
		default:
			return true
		}
	}
	return false
}

func runClientsCreate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "clients create", clientsCreateUsage)
	var af adminFlags
	af.register(fs, true)
	var cf clientFlags
	cf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(cf.name) == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	if err := cf.finish(fs); err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	spec := provider.ClientSpec{RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{}, Audience: []string{}}
	cf.apply(&spec)
	if !spec.Public {
		if err := a.checkSecret(ctx); err != nil {
			return err
		}
	}
	c, secret, err := a.svc.Provider.Clients.Create(ctx, spec)
	if err != nil {
		return explain(err)
	}
	return printSecret(e.stdout, af.json, c.ID, secret, c.Public)
}

// printSecret prints a client id and its new secret (create, rotate-secret).
func printSecret(w io.Writer, asJSON bool, id, secret string, public bool) error {
	if asJSON {
		out := struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret,omitempty"`
		}{id, secret}
		return printJSON(w, out)
	}
	fmt.Fprintf(w, "client_id: %s\n", id)
	if public {
		fmt.Fprintln(w, "\nA public client has no secret: it authenticates with none and must use PKCE.")
		return nil
	}
	if secret == "" {
		fmt.Fprintln(w, "\nThis client has no secret: it authenticates with private_key_jwt (its registered keys).")
		return nil
	}
	fmt.Fprintf(w, "client_secret: %s\n", secret)
	fmt.Fprintln(w, "\nThe client secret is shown only this once; keep it now (gatehouse clients rotate-secret replaces a lost one).")
	return nil
}

func runClientsList(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "clients list", clientsListUsage)
	var af adminFlags
	af.register(fs, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	all, err := a.svc.Provider.Clients.List(ctx)
	if err != nil {
		return explain(err)
	}
	if af.json {
		out := make([]clientJSON, 0, len(all))
		for _, c := range all {
			out = append(out, toClientJSON(ctx, c))
		}
		return printJSON(e.stdout, out)
	}
	if len(all) == 0 {
		fmt.Fprintf(e.stdout, "tenant %s has no clients\n", af.tenant)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tGRANT TYPES")
	for _, c := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, oneLineText(c.Name), clientType(c), strings.Join(c.GrantTypes, ","))
	}
	return tw.Flush()
}

func runClientsGet(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "clients get", clientsGetUsage)
	var af adminFlags
	af.register(fs, true)
	id, err := parseWithID(fs, args, "client id")
	if err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := a.svc.Provider.Clients.Get(ctx, id)
	if err != nil {
		return explain(err)
	}
	return printClient(ctx, e.stdout, af.json, c)
}

func runClientsUpdate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "clients update", clientsUpdateUsage)
	var af adminFlags
	af.register(fs, true)
	var cf clientFlags
	cf.register(fs)
	id, err := parseWithID(fs, args, "client id")
	if err != nil {
		return err
	}
	if err := cf.finish(fs); err != nil {
		return err
	}
	if !cf.settingsGiven() {
		return fmt.Errorf("%w: nothing to change: give at least one setting flag (see gatehouse clients update --help)", errUsage)
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	c, err := a.svc.Provider.Clients.Update(ctx, id, cf.apply)
	if err != nil {
		return explain(err)
	}
	return printClient(ctx, e.stdout, af.json, c)
}

func runClientsDelete(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "clients delete", clientsDeleteUsage)
	var af adminFlags
	af.register(fs, false)
	id, err := parseWithID(fs, args, "client id")
	if err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.svc.Provider.Clients.Delete(ctx, id); err != nil {
		return explain(err)
	}
	fmt.Fprintf(e.stdout, "deleted client %s\n", id)
	return nil
}

func runClientsRotate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "clients rotate-secret", clientsRotateUsage)
	var af adminFlags
	af.register(fs, true)
	id, err := parseWithID(fs, args, "client id")
	if err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.checkSecret(ctx); err != nil {
		return err
	}
	secret, err := a.svc.Provider.Clients.RotateSecret(ctx, id)
	if err != nil {
		return explain(err)
	}
	return printSecret(e.stdout, af.json, id, secret, false)
}

// clientJSON is a client as the admin commands print it: RFC 7591 names
// where there is one, and never the secret or its hash.
type clientJSON struct {
	ClientID                    string          `json:"client_id"`
	Tenant                      string          `json:"tenant"`
	Name                        string          `json:"client_name"`
	Public                      bool            `json:"public"`
	RedirectURIs                []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs      []string        `json:"post_logout_redirect_uris"`
	GrantTypes                  []string        `json:"grant_types"`
	ResponseTypes               []string        `json:"response_types"`
	Scope                       string          `json:"scope"`
	Audience                    []string        `json:"audience"`
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	IDTokenAlg                  string          `json:"id_token_signed_response_alg"`
	AccessTokenFormat           string          `json:"access_token_format"`
	SkipConsent                 bool            `json:"skip_consent"`
	CreatedAt                   time.Time       `json:"created_at"`
	UpdatedAt                   time.Time       `json:"updated_at"`
}

func toClientJSON(ctx context.Context, c storage.Client) clientJSON {
	tid := c.TenantID
	if tid == "" {
		tid, _ = tenant.From(ctx)
	}
	nonNil := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	out := clientJSON{ClientID: c.ID, Tenant: tid, Name: c.Name, Public: c.Public,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), ResponseTypes: nonNil(c.ResponseTypes), Scope: strings.Join(c.Scopes, " "),
		Audience: nonNil(c.Audience), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg, IDTokenAlg: c.IDTokenAlg,
		AccessTokenFormat: c.AccessTokenFormat, SkipConsent: c.SkipConsent,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if len(c.JWKS) > 0 && json.Valid(c.JWKS) {
		out.JWKS = c.JWKS
	}
	return out
}

// printClient prints one client's settings, as text or JSON.
func printClient(ctx context.Context, w io.Writer, asJSON bool, c storage.Client) error {
	j := toClientJSON(ctx, c)
	if asJSON {
		return printJSON(w, j)
	}
	list := func(l []string) string {
		if len(l) == 0 {
			return "-"
		}
		return strings.Join(l, " ")
	}
	orDefault := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	rows := [][2]string{
		{"client_id", j.ClientID},
		{"tenant", j.Tenant},
		{"name", oneLineText(j.Name)},
		{"type", clientType(c)},
		{"token_endpoint_auth_method", j.TokenEndpointAuthMethod},
		{"token_endpoint_auth_signing_alg", orDefault(j.TokenEndpointAuthSigningAlg, "-")},
		{"jwks", jwksSummary(c.JWKS)},
		{"grant_types", list(j.GrantTypes)},
		{"response_types", list(j.ResponseTypes)},
		{"redirect_uris", list(j.RedirectURIs)},
		{"post_logout_redirect_uris", list(j.PostLogoutRedirectURIs)},
		{"scope", orDefault(j.Scope, "-")},
		{"audience", list(j.Audience)},
		{"id_token_alg", j.IDTokenAlg},
		{"access_token_format", j.AccessTokenFormat},
		{"skip_consent", fmt.Sprint(j.SkipConsent)},
		{"created_at", j.CreatedAt.Format(time.RFC3339)},
		{"updated_at", j.UpdatedAt.Format(time.RFC3339)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func clientType(c storage.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

// jwksSummary names the keys of a client's JWK set.
func jwksSummary(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "-"
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return "(not a JWK set)"
	}
	var names []string
	for _, k := range set.Keys {
		n := k.Kty
		if k.Alg != "" {
			n += "/" + k.Alg
		}
		if k.Kid != "" {
			n = k.Kid + " (" + n + ")"
		}
		names = append(names, n)
	}
	return fmt.Sprintf("%d key(s) %s", len(set.Keys), strings.Join(names, ", "))
}

// oneLineText keeps operator-given text on one line in tables.
func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
