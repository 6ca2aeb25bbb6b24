// Package keyring turns GATEHOUSE_SECRET into working keys.
//
// Each configured secret is stretched with HKDF-SHA256 into one key per
// purpose (encryption at rest, fosite's HMAC token strategy, client-secret
// hashing, cookies), so no two uses share a key. The first secret encrypts
// and signs; every secret decrypts and verifies, which is how a secret is
// rotated: put the new one first, keep the old one until nothing needs it.
// The package knows nothing about what it protects.
package keyring
