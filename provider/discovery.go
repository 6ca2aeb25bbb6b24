package provider

import (
	"encoding/json"
	"net/http"
)

// Discovery is the OpenID Provider metadata (OIDC Discovery 1.0 §3) and the
// RFC 8414 authorization server metadata: the same document, listing what
// gatehouse does and nothing it does not.
type Discovery struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	// RFC 8414 §2: required when private_key_jwt is among the methods.
	RevocationEndpointAuthSigningAlgValuesSupported []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported                   []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                                 []string `json:"claims_supported"`
	ClaimTypesSupported                             []string `json:"claim_types_supported"`
	PromptValuesSupported                           []string `json:"prompt_values_supported"`
	AuthorizationResponseIssParameterSupported      bool     `json:"authorization_response_iss_parameter_supported"`
	ClaimsParameterSupported                        bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                       bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported                    bool     `json:"request_uri_parameter_supported"`
	RequireRequestURIRegistration                   bool     `json:"require_request_uri_registration"`
	FrontchannelLogoutSupported                     bool     `json:"frontchannel_logout_supported"`
	BackchannelLogoutSupported                      bool     `json:"backchannel_logout_supported"`
}

// DiscoveryFor returns the metadata of the tenant whose issuer is iss.
func DiscoveryFor(iss string) Discovery {
	authMethods := []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}
	return Discovery{
		Issuer:                                          iss,
		AuthorizationEndpoint:                           iss + "/oauth2/auth",
		TokenEndpoint:                                   iss + "/oauth2/token",
		UserinfoEndpoint:                                iss + "/userinfo",
		JWKSURI:                                         iss + "/.well-known/jwks.json",
		IntrospectionEndpoint:                           iss + "/oauth2/introspect",
		RevocationEndpoint:                              iss + "/oauth2/revoke",
		EndSessionEndpoint:                              iss + "/oauth2/sessions/logout",
		ScopesSupported:                                 []string{"openid", "profile", "email", "phone", "offline_access"},
		ResponseTypesSupported:                          []string{"code"},
		ResponseModesSupported:                          []string{"query"},
		GrantTypesSupported:                             []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		SubjectTypesSupported:                           []string{"public"},
		IDTokenSigningAlgValuesSupported:                Algs,
		TokenEndpointAuthMethodsSupported:               authMethods,
		TokenEndpointAuthSigningAlgValuesSupported:      assertionAlgs,
		IntrospectionEndpointAuthMethodsSupported:       []string{AuthSecretBasic},
		RevocationEndpointAuthMethodsSupported:          authMethods,
		RevocationEndpointAuthSigningAlgValuesSupported: assertionAlgs,
		CodeChallengeMethodsSupported:                   []string{"S256"},
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
			"at_hash", "jti", "rat", "name", "given_name", "family_name", "updated_at", "email", "email_verified", "phone_number",
			"phone_number_verified"},
		ClaimTypesSupported:                        []string{"normal"},
		PromptValuesSupported:                      []string{"none", "login", "consent"},
		AuthorizationResponseIssParameterSupported: true,
	}
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeCacheableJSON(w, DiscoveryFor(p.issuer(r.Context())), "public, max-age=300")
}

// jwks publishes the tenant's public signing keys (next, active, retired
// until they expire). Clients cache it for a few minutes; a next key is
// published a whole rotation period before it signs.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := p.Keys.JWKS(r.Context())
	if err != nil {
		p.writeJSONError(w, r, "jwks", err, "")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeCacheableJSON(w, set, "public, max-age=300")
}

func writeCacheableJSON(w http.ResponseWriter, v any, cache string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", cache)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// assertionAlgs are the algorithms a private_key_jwt client assertion may
// be signed with, at the token and revocation endpoints alike.
var assertionAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
