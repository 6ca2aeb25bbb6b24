package provider

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"
)

// AlgHeader is a private header a session sets to choose the signing
// algorithm of its JWTs (the client's id_token_signed_response_alg); the
// signer removes it and signs with the tenant's active key of that alg.
const AlgHeader = "gatehouse_alg"

// Signer is fosite's jwt.Signer over the tenant's keys. fosite's
// DefaultSigner verifies with the current key only, which breaks every token
// signed before a rotation; this one signs with the active key of the
// requested algorithm and verifies with the key the token's kid names, and
// only if the token's alg is that key's alg (no alg confusion, no "none").
type Signer struct {
	Keys *Keys
}

var _ jwt.Signer = (*Signer)(nil)

// Generate signs claims with the active key of the algorithm the header asks
// for (RS256 by default); the header gets the key's kid.
func (s *Signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	h := header.ToMap()
	alg, _ := h[AlgHeader].(string)
	delete(h, AlgHeader)
	delete(h, "kid")
	if alg == "" {
		alg = RS256
	}
	key, err := s.Keys.signing(ctx, alg)
	if err != nil {
		return "", "", err
	}
	tok := jwt.NewWithClaims(josev3.SignatureAlgorithm(alg), claims)
	tok.Header = h
	raw, err := tok.SignedString(&josev3.JSONWebKey{Key: key.private, KeyID: key.kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		return "", "", err
	}
	sig, err := s.GetSignature(ctx, raw)
	return raw, sig, err
}

// Decode verifies token's signature with the key its kid names and checks
// its claims; an expired token is returned with a ValidationError that says
// so (fosite accepts expired id_token_hints).
func (s *Signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := s.Keys.verification(ctx, kid)
		if err != nil {
			return nil, err
		}
		if string(t.Method) != key.alg {
			return nil, fmt.Errorf("token alg %q does not match key %s (%s)", t.Method, kid, key.alg)
		}
		return key.public, nil
	})
}

// Validate verifies token and returns its signature.
func (s *Signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Hash is SHA-256 (both RS256 and ES256 use it; at_hash takes its left half).
func (s *Signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSignature returns the third part of a compact JWS.
func (s *Signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("header, body and signature must all be set")
	}
	return parts[2], nil
}

// GetSigningMethodLength is the SHA-256 size.
func (s *Signer) GetSigningMethodLength(context.Context) int { return sha256.Size }
