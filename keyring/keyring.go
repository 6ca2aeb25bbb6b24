package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
)

// Purposes of derived keys. A purpose string is part of the key derivation:
// changing one invalidates everything protected under it.
const (
	PurposeEncryption   = "gatehouse/v1/aead"
	PurposeTokenHMAC    = "gatehouse/v1/fosite-hmac"
	PurposeClientSecret = "gatehouse/v1/client-secret"
	PurposeCookie       = "gatehouse/v1/cookie"
	PurposeLookup       = "gatehouse/v1/lookup"
)

// ErrDecrypt is returned when no configured secret opens a ciphertext.
var ErrDecrypt = errors.New("keyring: cannot decrypt (wrong or rotated-out secret, or tampered data)")

// Keyring holds the keys derived from the configured secrets.
type Keyring struct {
	secrets [][]byte
	aeads   []sealer
	derived sync.Map // purpose → [][]byte, one key per secret
}

type sealer struct {
	id   [4]byte
	aead cipher.AEAD
}

// New derives the keys. secrets[0] is current. Each must be ≥ 32 bytes.
func New(secrets []string) (*Keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("keyring: no secret")
	}
	k := &Keyring{}
	for i, s := range secrets {
		if len(s) < 32 {
			return nil, fmt.Errorf("keyring: secret #%d is shorter than 32 bytes", i+1)
		}
		k.secrets = append(k.secrets, []byte(s))
		key := derive([]byte(s), PurposeEncryption, 32)
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		var id [4]byte
		sum := sha256.Sum256(key)
		copy(id[:], sum[:4])
		k.aeads = append(k.aeads, sealer{id: id, aead: gcm})
	}
	return k, nil
}

func derive(secret []byte, purpose string, n int) []byte {
	out, err := hkdf.Key(sha256.New, secret, nil, purpose, n)
	if err != nil {
		panic(err) // only for n > 255*32
	}
	return out
}

// Keys returns one 32-byte key per secret for purpose, the current first.
// Derived once per purpose; callers must not modify them.
func (k *Keyring) Keys(purpose string) [][]byte {
	if v, ok := k.derived.Load(purpose); ok {
		return v.([][]byte)
	}
	out := make([][]byte, len(k.secrets))
	for i, s := range k.secrets {
		out[i] = derive(s, purpose, 32)
	}
	k.derived.Store(purpose, out)
	return out
}

const version byte = 1

// Seal encrypts plaintext with the current key (AES-256-GCM). aad binds the
// ciphertext to its context (for example the row id), so it cannot be moved
// to another row. Layout: version(1) | key id(4) | nonce(12) | ciphertext.
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	s := k.aeads[0]
	out := make([]byte, 0, 1+4+12+len(plaintext)+16)
	out = append(out, version)
	out = append(out, s.id[:]...)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts what Seal produced with any configured secret.
func (k *Keyring) Open(ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < 1+4+12+16 || ciphertext[0] != version {
		return nil, ErrDecrypt
	}
	id, nonce, body := ciphertext[1:5], ciphertext[5:17], ciphertext[17:]
	for _, s := range k.aeads {
		if string(s.id[:]) != string(id) {
			continue
		}
		if pt, err := s.aead.Open(nil, nonce, body, aad); err == nil {
			return pt, nil
		}
	}
	return nil, ErrDecrypt
}

// MAC returns HMAC-SHA256 of msg under the current key of purpose.
func (k *Keyring) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, k.Keys(purpose)[0])
	m.Write(msg)
	return m.Sum(nil)
}

// Verify reports whether mac is msg's HMAC under any secret's key for
// purpose (constant-time compare), and whether it matched the current one,
// so callers can re-hash values made under a rotated-out secret.
func (k *Keyring) Verify(purpose string, msg, mac []byte) (ok, current bool) {
	for i, key := range k.Keys(purpose) {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		if hmac.Equal(m.Sum(nil), mac) {
			return true, i == 0
		}
	}
	return false, false
}
