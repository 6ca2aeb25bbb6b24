package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"
)

// BenchmarkVerify is the keyed-hash check of a 256-bit client secret
// (43 URL-safe characters) under a keyring with a current and a rotated
// secret: a match on the current key, a match on the rotated one (two
// HMACs), and a mismatch (every key tried).
func BenchmarkVerify(b *testing.B) {
	k, err := New([]string{newSecret, oldSecret})
	if err != nil {
		b.Fatal(err)
	}
	old, err := New([]string{oldSecret})
	if err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := []byte(base64.RawURLEncoding.EncodeToString(raw))
	wrong := bytes.ToUpper(secret)
	for _, tc := range []struct {
		name        string
		mac, msg    []byte
		ok, current bool
	}{
		{"current", k.MAC(PurposeClientSecret, secret), secret, true, true},
		{"rotated", old.MAC(PurposeClientSecret, secret), secret, true, false},
		{"mismatch", k.MAC(PurposeClientSecret, secret), wrong, false, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, current := k.Verify(PurposeClientSecret, tc.msg, tc.mac); ok != tc.ok || current != tc.current {
					b.Fatalf("Verify = %v, %v; want %v, %v", ok, current, tc.ok, tc.current)
				}
			}
		})
	}
}

// BenchmarkMAC is one keyed hash under the current secret (client
// registration and secret rotation store it).
func BenchmarkMAC(b *testing.B) {
	k, err := New([]string{newSecret, oldSecret})
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("Zb3kq0W0m0uQm6m9m0tQ0Yp1cQmJqkqQ7l6m2m3n4o5")
	want := k.MAC(PurposeClientSecret, msg)
	b.ReportAllocs()
	for b.Loop() {
		if got := k.MAC(PurposeClientSecret, msg); !bytes.Equal(got, want) {
			b.Fatal("MAC is not deterministic")
		}
	}
}
