package keyring

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var (
	oldSecret = strings.Repeat("o", 32)
	newSecret = strings.Repeat("n", 40)
)

func TestSealOpenAndRotation(t *testing.T) {
	old, err := New([]string{oldSecret})
	if err != nil {
		t.Fatal(err)
	}
	ct := old.Seal([]byte("private key"), []byte("row-1"))
	rotated, _ := New([]string{newSecret, oldSecret})
	pt, err := rotated.Open(ct, []byte("row-1"))
	if err != nil || string(pt) != "private key" {
		t.Fatalf("Open after rotation = %q, %v", pt, err)
	}
	if _, err := rotated.Open(ct, []byte("row-2")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open with wrong aad err = %v", err)
	}
	fresh := rotated.Seal([]byte("x"), nil)
	if _, err := old.Open(fresh, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatal("old keyring opened data sealed under the new secret")
	}
	dropped, _ := New([]string{newSecret})
	if _, err := dropped.Open(ct, []byte("row-1")); !errors.Is(err, ErrDecrypt) {
		t.Fatal("data sealed under a dropped secret still opens")
	}
	ct[len(ct)-1] ^= 1
	if _, err := rotated.Open(ct, []byte("row-1")); !errors.Is(err, ErrDecrypt) {
		t.Fatal("tampered ciphertext opened")
	}
}

func TestMACVerify(t *testing.T) {
	old, _ := New([]string{oldSecret})
	rotated, _ := New([]string{newSecret, oldSecret})
	mac := old.MAC(PurposeClientSecret, []byte("s3cret"))
	if ok, cur := rotated.Verify(PurposeClientSecret, []byte("s3cret"), mac); !ok || cur {
		t.Fatalf("Verify = %v, %v; want ok under a rotated secret", ok, cur)
	}
	if ok, _ := rotated.Verify(PurposeCookie, []byte("s3cret"), mac); ok {
		t.Fatal("a MAC verified under another purpose")
	}
	if ok, cur := rotated.Verify(PurposeClientSecret, []byte("s3cret"), rotated.MAC(PurposeClientSecret, []byte("s3cret"))); !ok || !cur {
		t.Fatal("current MAC not current")
	}
	keys := rotated.Keys(PurposeTokenHMAC)
	if len(keys) != 2 || len(keys[0]) != 32 || bytes.Equal(keys[0], keys[1]) {
		t.Fatal("Keys")
	}
	if _, err := New([]string{"short"}); err == nil {
		t.Fatal("short secret accepted")
	}
}
