package provider

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// client adapts a stored client to fosite's client interfaces.
type client struct {
	storage.Client
	jwks *josev3.JSONWebKeySet
}

var (
	_ fosite.Client              = (*client)(nil)
	_ fosite.OpenIDConnectClient = (*client)(nil)
	_ fosite.ResponseModeClient  = (*client)(nil)
)

func newClient(c storage.Client) (*client, error) {
	fc := &client{Client: c}
	if len(c.JWKS) > 0 {
		fc.jwks = &josev3.JSONWebKeySet{}
		if err := json.Unmarshal(c.JWKS, fc.jwks); err != nil {
			return nil, err
		}
	}
	return fc, nil
}

func (c *client) GetID() string                   { return c.ID }
func (c *client) GetHashedSecret() []byte         { return c.SecretHash }
func (c *client) GetRedirectURIs() []string       { return c.RedirectURIs }
func (c *client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }
func (c *client) GetResponseTypes() fosite.Arguments {
	if len(c.ResponseTypes) == 0 {
		return fosite.Arguments{"code"}
	}
	return c.ResponseTypes
}
func (c *client) GetScopes() fosite.Arguments                  { return c.Scopes }
func (c *client) IsPublic() bool                               { return c.Public }
func (c *client) GetAudience() fosite.Arguments                { return c.Audience }
func (c *client) GetRequestURIs() []string                     { return nil }
func (c *client) GetJSONWebKeys() *josev3.JSONWebKeySet        { return c.jwks }
func (c *client) GetJSONWebKeysURI() string                    { return "" }
func (c *client) GetRequestObjectSigningAlgorithm() string     { return "" }
func (c *client) GetTokenEndpointAuthMethod() string           { return c.TokenEndpointAuthMethod }
func (c *client) GetTokenEndpointAuthSigningAlgorithm() string { return c.signingAlg() }

func (c *client) signingAlg() string {
	if c.TokenEndpointAuthSigningAlg == "" {
		return RS256
	}
	return c.TokenEndpointAuthSigningAlg
}

// GetResponseModes allows only the query response mode: gatehouse issues
// codes, never tokens in a fragment.
func (c *client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery}
}

// secretHasher hashes client secrets with a keyed HMAC-SHA256. Generated
// secrets carry 256 bits of entropy, so a slow KDF would only cost every
// token request ~100ms (FOSITE.md §7) without adding safety; the key
// (from GATEHOUSE_SECRET) means a leaked table alone cannot be used to test
// guesses. Comparison is constant-time, under every configured secret.
type secretHasher struct {
	ring *keyring.Keyring
}

var errSecretMismatch = errors.New("client secret mismatch")

func (h secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if ok, _ := h.ring.Verify(keyring.PurposeClientSecret, data, hash); !ok {
		return errSecretMismatch
	}
	return nil
}

func (h secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return h.ring.MAC(keyring.PurposeClientSecret, data), nil
}
