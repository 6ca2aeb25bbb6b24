package provider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	jose "github.com/go-jose/go-jose/v4"
)

// The signing algorithms. RS256 is always available (OIDC Core §15.1);
// ES256 is chosen per client.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Algs lists the supported signing algorithms.
var Algs = []string{RS256, ES256}

// KeyStore is what Keys needs from storage.
type KeyStore interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	CreateSigningKey(ctx context.Context, k storage.SigningKey) error
	TransitionSigningKey(ctx context.Context, kid, from, to string, at time.Time, expiresAt *time.Time) error
	DeleteSigningKey(ctx context.Context, kid string) error
	AppendEvent(ctx context.Context, e storage.Event) error
}

// Keys manages each tenant's signing keys: one active and one next key per
// algorithm, plus retired keys until what they signed has expired. The
// database is the source of truth; parsed keys are cached for CacheTTL and
// reloaded at once when a token names an unknown kid.
//
// Rotation without downtime: a key is created as "next" and published in
// JWKS a whole rotation period before it signs; rotating retires the active
// key (still published for Retention), promotes the next one and creates a
// new next one.
type Keys struct {
	Store KeyStore
	Ring  *keyring.Keyring
	Now   func() time.Time
	Log   *slog.Logger
	// Retention is how long a retired key stays published: at least the
	// longest lifetime of anything it signed.
	Retention time.Duration
	// CacheTTL bounds how stale the parsed keys may be (default 10s).
	CacheTTL time.Duration
	// MinPublished is how long a next key must have been in JWKS before a
	// rotation may promote it (default 5m, the JWKS Cache-Control max-age),
	// so relying parties that cached JWKS already know it.
	MinPublished time.Duration

	mu    sync.Mutex
	cache map[string]*keySet
}

type keySet struct {
	loaded time.Time
	byKID  map[string]*signingKey
	active map[string]*signingKey // by alg
	public []*signingKey          // what JWKS publishes
}

type signingKey struct {
	kid, alg, state string
	private         crypto.Signer
	public          crypto.PublicKey
	jwk             jose.JSONWebKey
	activatedAt     *time.Time
}

// ErrNoKey is returned when a token names a key the tenant does not have.
var ErrNoKey = errors.New("provider: unknown signing key")

func (k *Keys) ttl() time.Duration {
	if k.CacheTTL > 0 {
		return k.CacheTTL
	}
	return 10 * time.Second
}

func tenantID(ctx context.Context) string {
	id, _ := tenant.From(ctx)
	return id
}

// set returns the tenant's parsed keys, loading them when stale or forced.
func (k *Keys) set(ctx context.Context, force bool) (*keySet, error) {
	tid := tenantID(ctx)
	k.mu.Lock()
	cur := k.cache[tid]
	k.mu.Unlock()
	if cur != nil && !force && k.Now().Sub(cur.loaded) < k.ttl() {
		return cur, nil
	}
	// Loaded with the caller's ctx (inside its transaction, if any): a read
	// nothing can roll back. Concurrent misses may each load; it is cheap.
	ks, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.cache == nil {
		k.cache = map[string]*keySet{}
	}
	k.cache[tid] = ks
	k.mu.Unlock()
	return ks, nil
}

// Check loads the tenant's keys without changing anything and reports
// ErrKeysUnusable when the configured secrets cannot open the active or next
// ones (an admin command run with the wrong GATEHOUSE_SECRET).
func (k *Keys) Check(ctx context.Context) error {
	_, err := k.set(ctx, true)
	return err
}

// ErrKeysUnusable: a key that signs (or is about to) cannot be opened with
// the configured secrets.
var ErrKeysUnusable = errors.New("provider: signing key cannot be opened with GATEHOUSE_SECRET (was the secret replaced instead of rotated?)")

func (k *Keys) load(ctx context.Context) (*keySet, error) {
	rows, err := k.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	ks := &keySet{loaded: k.Now(), byKID: map[string]*signingKey{}, active: map[string]*signingKey{}}
	now := k.Now()
	for _, row := range rows {
		if row.State == storage.KeyRetired && row.ExpiresAt != nil && !now.Before(*row.ExpiresAt) {
			continue // expired: neither published nor accepted
		}
		sk, err := k.parse(ctx, row)
		if err != nil {
			if row.State != storage.KeyRetired {
				return nil, fmt.Errorf("%w: %s key %s (%s): %v", ErrKeysUnusable, row.State, row.KID, row.Alg, err)
			}
			k.Log.WarnContext(ctx, "retired signing key unusable; no longer published", "kid", row.KID, "err", err)
			continue
		}
		ks.byKID[sk.kid] = sk
		ks.public = append(ks.public, sk)
		if sk.state == storage.KeyActive {
			ks.active[sk.alg] = sk
		}
	}
	return ks, nil
}

func aad(ctx context.Context, kid string) []byte {
	return []byte("signing-key|" + tenantID(ctx) + "|" + kid)
}

func (k *Keys) parse(ctx context.Context, row storage.SigningKey) (*signingKey, error) {
	der, err := k.Ring.Open(row.PrivateKey, aad(ctx, row.KID))
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s is not a signer", row.KID)
	}
	sk := &signingKey{kid: row.KID, alg: row.Alg, state: row.State, private: signer, public: signer.Public(), activatedAt: row.ActivatedAt}
	sk.jwk = jose.JSONWebKey{Key: sk.public, KeyID: sk.kid, Algorithm: sk.alg, Use: "sig"}
	return sk, nil
}

// generate makes a new key pair for alg, sealed for storage.
func (k *Keys) generate(ctx context.Context, alg, state string) (storage.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return storage.SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, err
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, err
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	pub, err := jwk.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, err
	}
	now := k.Now().UTC()
	sk := storage.SigningKey{KID: jwk.KeyID, Alg: alg, State: state, PrivateKey: k.Ring.Seal(der, aad(ctx, jwk.KeyID)),
		PublicJWK: pub, CreatedAt: now}
	if state == storage.KeyActive {
		sk.ActivatedAt = &now
	}
	return sk, nil
}

// Ensure gives the ctx tenant an active and a next key for every algorithm
// that lacks one. Safe on several replicas at once: the database's unique
// indexes let one insert win and the others reload.
func (k *Keys) Ensure(ctx context.Context) error {
	ks, err := k.set(ctx, true)
	if err != nil {
		return err
	}
	changed := false
	for _, alg := range Algs {
		hasNext := false
		for _, sk := range ks.byKID {
			if sk.alg == alg && sk.state == storage.KeyNext {
				hasNext = true
			}
		}
		if ks.active[alg] == nil {
			if err := k.create(ctx, alg, storage.KeyActive); err != nil {
				return err
			}
			changed = true
		}
		if !hasNext {
			if err := k.create(ctx, alg, storage.KeyNext); err != nil {
				return err
			}
			changed = true
		}
	}
	if changed {
		_, err = k.set(ctx, true)
	}
	return err
}

func (k *Keys) create(ctx context.Context, alg, state string) error {
	row, err := k.generate(ctx, alg, state)
	if err != nil {
		return err
	}
	err = k.Store.InTx(ctx, func(ctx context.Context) error {
		if err := k.Store.CreateSigningKey(ctx, row); err != nil {
			return err
		}
		return events.Record(ctx, k.Store, events.KeyCreated, row.KID, map[string]any{"alg": alg, "state": state})
	})
	if errors.Is(err, storage.ErrConflict) {
		return nil // another replica created it first
	}
	return err
}

// ErrTooSoon: the next key has not been published long enough to sign.
var ErrTooSoon = errors.New("provider: the next key was published too recently to sign; relying parties may not have it yet (force to rotate anyway)")

// Rotate retires the tenant's active key of alg (published for Retention
// more), promotes the next key, which JWKS has published since the previous
// rotation, and creates a new next key. Unless force, it refuses when the
// next key has been published for less than MinPublished. It returns the
// kids of the new active key and of the retired one.
func (k *Keys) Rotate(ctx context.Context, alg string, force bool) (activated, retired string, err error) {
	return k.rotate(ctx, alg, force, 0)
}

// errNotDue: the active key was activated less than the rotation period
// ago (another replica rotated it first).
var errNotDue = errors.New("provider: the active key is not due for rotation")

// rotate is Rotate when the active key is at least olderThan old, checked
// in the transaction that rotates, so that replicas maintaining keys at
// once rotate once: the others get errNotDue (or, racing, ErrConflict or
// storage.ErrNotFound from the state-checked transitions).
func (k *Keys) rotate(ctx context.Context, alg string, force bool, olderThan time.Duration) (activated, retired string, err error) {
	if err := k.Ensure(ctx); err != nil {
		return "", "", err
	}
	fresh, err := k.generate(ctx, alg, storage.KeyNext)
	if err != nil {
		return "", "", err
	}
	minPublished := k.MinPublished
	if minPublished == 0 {
		minPublished = 5 * time.Minute
	}
	err = k.Store.InTx(ctx, func(ctx context.Context) error {
		rows, err := k.Store.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		var active, next *storage.SigningKey
		for i := range rows {
			if rows[i].Alg != alg {
				continue
			}
			switch rows[i].State {
			case storage.KeyActive:
				active = &rows[i]
			case storage.KeyNext:
				next = &rows[i]
			}
		}
		if active == nil || next == nil {
			return fmt.Errorf("rotate %s: tenant has no active or next key: %w", alg, storage.ErrConflict)
		}
		now := k.Now().UTC()
		if olderThan > 0 && (active.ActivatedAt == nil || now.Sub(*active.ActivatedAt) < olderThan) {
			return errNotDue
		}
		if !force && now.Sub(next.CreatedAt) < minPublished {
			return fmt.Errorf("%w (key %s published %s ago, needs %s)", ErrTooSoon, next.KID, now.Sub(next.CreatedAt).Round(time.Second), minPublished)
		}
		expires := now.Add(k.Retention)
		if err := k.Store.TransitionSigningKey(ctx, active.KID, storage.KeyActive, storage.KeyRetired, now, &expires); err != nil {
			return err
		}
		if err := k.Store.TransitionSigningKey(ctx, next.KID, storage.KeyNext, storage.KeyActive, now, nil); err != nil {
			return err
		}
		if err := k.Store.CreateSigningKey(ctx, fresh); err != nil {
			return err
		}
		activated, retired = next.KID, active.KID
		for typ, kid := range map[string]string{events.KeyRetired: active.KID, events.KeyActivated: next.KID, events.KeyCreated: fresh.KID} {
			if err := events.Record(ctx, k.Store, typ, kid, map[string]any{"alg": alg}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	_, err = k.set(ctx, true)
	return activated, retired, err
}

// Maintain is the periodic job for the ctx tenant: create missing keys,
// rotate keys older than period (0: never), and delete retired keys whose
// retention is over.
func (k *Keys) Maintain(ctx context.Context, period time.Duration) error {
	if err := k.Ensure(ctx); err != nil {
		return err
	}
	ks, err := k.set(ctx, true)
	if err != nil {
		return err
	}
	now := k.Now()
	for _, alg := range Algs {
		a := ks.active[alg]
		if period > 0 && a != nil && a.activatedAt != nil && now.Sub(*a.activatedAt) >= period {
			// Another replica may be rotating the same key: it wins and
			// this one finds the key no longer due (or loses the race on
			// the transitions); the next key may also be too young to sign.
			_, _, err := k.rotate(ctx, alg, false, period)
			switch {
			case err == nil, errors.Is(err, errNotDue), errors.Is(err, ErrTooSoon),
				errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrConflict):
			default:
				return err
			}
		}
	}
	rows, err := k.Store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if row.State == storage.KeyRetired && row.ExpiresAt != nil && !now.Before(*row.ExpiresAt) {
			if err := k.Store.DeleteSigningKey(ctx, row.KID); err != nil {
				return err
			}
		}
	}
	return nil
}

// signing returns the tenant's active key for alg. It never creates keys:
// it runs inside token transactions, and keys are made at start-up, by the
// maintenance loop and by JWKS (Ensure), outside any.
func (k *Keys) signing(ctx context.Context, alg string) (*signingKey, error) {
	ks, err := k.set(ctx, false)
	if err != nil {
		return nil, err
	}
	if sk := ks.active[alg]; sk != nil {
		return sk, nil
	}
	if ks, err = k.set(ctx, true); err != nil {
		return nil, err
	}
	if sk := ks.active[alg]; sk != nil {
		return sk, nil
	}
	return nil, fmt.Errorf("%w: tenant %q has no active %s key yet (created at start-up and by key maintenance)", ErrNoKey, tenantID(ctx), alg)
}

// verification returns a published key of the tenant by kid. An unknown kid
// forces one reload (a key rotated on another replica), no more often than
// once a second per tenant.
func (k *Keys) verification(ctx context.Context, kid string) (*signingKey, error) {
	ks, err := k.set(ctx, false)
	if err != nil {
		return nil, err
	}
	if sk := ks.byKID[kid]; sk != nil {
		return sk, nil
	}
	if k.Now().Sub(ks.loaded) >= time.Second {
		if ks, err = k.set(ctx, true); err != nil {
			return nil, err
		}
		if sk := ks.byKID[kid]; sk != nil {
			return sk, nil
		}
	}
	return nil, ErrNoKey
}

// JWKS returns the tenant's published public keys: next, active and
// retired-but-not-expired, each with kid, alg and use=sig.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	ks, err := k.set(ctx, false)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if len(ks.active) < len(Algs) {
		if err := k.Ensure(ctx); err != nil {
			return jose.JSONWebKeySet{}, err
		}
		if ks, err = k.set(ctx, false); err != nil {
			return jose.JSONWebKeySet{}, err
		}
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks.public))}
	for _, sk := range ks.public {
		set.Keys = append(set.Keys, sk.jwk)
	}
	return set, nil
}

// ActiveKID returns the kid the tenant signs alg with now.
func (k *Keys) ActiveKID(ctx context.Context, alg string) (string, error) {
	sk, err := k.signing(ctx, alg)
	if err != nil {
		return "", err
	}
	return sk.kid, nil
}
