package login

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
)

// fast keeps the unit tests quick; the cost parameters are not what is
// under test here.
var fast = Argon2Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func TestHashVerify(t *testing.T) {
	h := NewHasher(fast, 2, time.Second)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("Hash = %q, %v", enc, err)
	}
	if ok, rehash, err := h.Verify(ctx, enc, "correct horse"); !ok || rehash || err != nil {
		t.Fatalf("Verify(right) = %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, enc, "wrong horse"); ok {
		t.Fatal("wrong password verified")
	}
	// NFC: the composed and decomposed forms of "é" are one password.
	enc2, _ := h.Hash(ctx, "caf\u00e9 au lait")
	if ok, _, _ := h.Verify(ctx, enc2, "cafe\u0301 au lait"); !ok {
		t.Fatal("NFC-equivalent password refused")
	}
	// No silent truncation (bcrypt stops at 72 bytes).
	long := strings.Repeat("x", 100)
	enc3, _ := h.Hash(ctx, long)
	if ok, _, _ := h.Verify(ctx, enc3, long[:72]); ok {
		t.Fatal("a 72-byte prefix verified a 100-byte password")
	}
	// The dummy never verifies, whatever the password.
	if ok, _, err := h.Verify(ctx, "", ""); ok || err != nil {
		t.Fatalf("dummy verify = %v %v", ok, err)
	}
	// Weaker stored parameters ask for a re-hash.
	stronger := NewHasher(Argon2Params{Memory: 128, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}, 1, time.Second)
	if ok, rehash, _ := stronger.Verify(ctx, enc, "correct horse"); !ok || !rehash {
		t.Fatalf("weaker hash: ok %v rehash %v", ok, rehash)
	}
	for _, bad := range []string{"$2a$10$abc", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "garbage", "$argon2i$v=19$m=64,t=1,p=1$YWJj$YWJj"} {
		if _, _, err := h.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", bad)
		}
	}
}

// TestParsePHCRejects: each case is a well-formed hash (16-byte salt,
// 32-byte key) but for one field, so the check of that field is the one
// that refuses it.
func TestParsePHCRejects(t *testing.T) {
	b64 := base64.RawStdEncoding
	salt, key := b64.EncodeToString(bytes.Repeat([]byte{1}, 16)), b64.EncodeToString(bytes.Repeat([]byte{2}, 32))
	phc := func(v, costs string) string { return "$argon2id$" + v + "$" + costs + "$" + salt + "$" + key }
	if p, gotSalt, gotKey, err := parsePHC(phc("v=19", "m=64,t=1,p=1")); err != nil || p.Memory != 64 || p.Time != 1 || p.Threads != 1 ||
		len(gotSalt) != 16 || len(gotKey) != 32 {
		t.Fatalf("the valid base case: %+v, %d-byte salt, %d-byte key, %v", p, len(gotSalt), len(gotKey), err)
	}
	// The largest accepted parameters (parsed, never hashed here).
	if p, _, _, err := parsePHC(phc("v=19", "m=4194304,t=64,p=16")); err != nil || p.Memory != maxMemoryKiB || p.Time != maxTime || p.Threads != maxThreads {
		t.Fatalf("the largest accepted parameters: %+v, %v", p, err)
	}
	for name, bad := range map[string]string{
		"m=0":               phc("v=19", "m=0,t=1,p=1"),
		"t=0":               phc("v=19", "m=64,t=0,p=1"),
		"p=0":               phc("v=19", "m=64,t=1,p=0"),
		"m too big":         phc("v=19", "m=4194305,t=1,p=1"),
		"m max uint32":      phc("v=19", "m=4294967295,t=1,p=1"),
		"m beyond uint32":   phc("v=19", "m=4294967296,t=1,p=1"),
		"t too big":         phc("v=19", "m=64,t=65,p=1"),
		"t max uint32":      phc("v=19", "m=64,t=4294967295,p=1"),
		"p too big":         phc("v=19", "m=64,t=1,p=17"),
		"p beyond uint8":    phc("v=19", "m=64,t=1,p=257"),
		"v=16":              phc("v=16", "m=64,t=1,p=1"),
		"v junk":            phc("v=19junk", "m=64,t=1,p=1"),
		"v missing":         phc("19", "m=64,t=1,p=1"),
		"p junk":            phc("v=19", "m=64,t=1,p=1junk"),
		"m junk":            phc("v=19", "m=64k,t=1,p=1"),
		"extra cost":        phc("v=19", "m=64,t=1,p=1,x=1"),
		"costs reordered":   phc("v=19", "t=1,m=64,p=1"),
		"sign":              phc("v=19", "m=+64,t=1,p=1"),
		"space":             phc("v=19", "m= 64,t=1,p=1"),
		"empty number":      phc("v=19", "m=,t=1,p=1"),
		"prefix before $":   "x" + phc("v=19", "m=64,t=1,p=1"),
		"trailing field":    phc("v=19", "m=64,t=1,p=1") + "$",
		"short key":         "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b64.EncodeToString(make([]byte, 15)),
		"salt not base64":   "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key,
		"no salt":           "$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"short salt":        "$argon2id$v=19$m=64,t=1,p=1$" + b64.EncodeToString(make([]byte, 7)) + "$" + key,
		"key padded base64": phc("v=19", "m=64,t=1,p=1") + "==",
	} {
		if _, _, _, err := parsePHC(bad); !errors.Is(err, errBadHash) {
			t.Errorf("%s: parsePHC(%q) = %v, want errBadHash", name, bad, err)
		}
	}
}

// TestEncodePHC: what encodePHC writes parsePHC reads back, and Hash and the
// dummy hash both use it.
func TestEncodePHC(t *testing.T) {
	salt, key := bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{4}, 32)
	enc := encodePHC(Argon2Params{Memory: 19456, Time: 3, Threads: 1}, salt, key)
	if want := "$argon2id$v=19$m=19456,t=3,p=1$AwMDAwMDAwMDAwMDAwMDAw$BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"; enc != want {
		t.Fatalf("encodePHC = %q, want %q", enc, want)
	}
	p, gotSalt, gotKey, err := parsePHC(enc)
	if err != nil || p.Memory != 19456 || p.Time != 3 || p.Threads != 1 || !bytes.Equal(gotSalt, salt) || !bytes.Equal(gotKey, key) {
		t.Fatalf("parsePHC(encodePHC) = %+v %x %x %v", p, gotSalt, gotKey, err)
	}
	h := NewHasher(fast, 1, time.Second)
	if p, s, k, err := parsePHC(h.dummy); err != nil || p.Memory != fast.Memory || p.Time != fast.Time || p.Threads != fast.Threads ||
		len(s) != int(fast.SaltLen) || len(k) != int(fast.KeyLen) {
		t.Fatalf("dummy hash %q: %+v %v", h.dummy, p, err)
	}
}

// TestHasherLimit: when every slot is busy longer than the wait, callers
// get RATE_LIMITED (429), not a queue without end.
func TestHasherLimit(t *testing.T) {
	h := NewHasher(fast, 1, 20*time.Millisecond)
	h.slots <- struct{}{} // one sign-in hashing for a long time
	_, err := h.Hash(context.Background(), "password")
	var ce *catalog.Error
	if !errors.As(err, &ce) || ce.Code != catalog.RateLimited.Code || ce.Status != 429 || ce.RetryAfter == 0 {
		t.Fatalf("Hash with no free slot = %v", err)
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "password"); err != nil {
		t.Fatalf("Hash with a free slot = %v", err)
	}
}

// TestVerifyLimit: Verify, like Hash, answers RATE_LIMITED when every slot
// stays busy past the wait, and takes a slot again once one is free.
func TestVerifyLimit(t *testing.T) {
	h := NewHasher(fast, 1, 20*time.Millisecond)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "password")
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // one sign-in hashing for a long time
	// A known account's hash and the dummy (an unknown account).
	for _, encoded := range []string{enc, ""} {
		ok, rehash, err := h.Verify(ctx, encoded, "password")
		var ce *catalog.Error
		if ok || rehash || !errors.As(err, &ce) || ce.Code != catalog.RateLimited.Code || ce.Status != 429 || ce.RetryAfter == 0 {
			t.Fatalf("Verify(%.20q) with no free slot = %v %v %v", encoded, ok, rehash, err)
		}
	}
	if len(h.slots) != 1 {
		t.Fatalf("%d slots taken after refused Verify calls, want 1", len(h.slots))
	}
	<-h.slots
	if ok, _, err := h.Verify(ctx, enc, "password"); !ok || err != nil {
		t.Fatalf("Verify with a free slot = %v, %v", ok, err)
	}
	if len(h.slots) != 0 {
		t.Fatalf("%d slots taken after Verify returned", len(h.slots))
	}
}

// TestHasherCancel: a caller whose request is gone (cancelled context)
// stops waiting for a slot at once with the context's error, not after the
// wait and not with RATE_LIMITED.
func TestHasherCancel(t *testing.T) {
	h := NewHasher(fast, 1, time.Minute)
	enc, err := h.Hash(context.Background(), "password")
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := h.Hash(ctx, "password"); !errors.Is(err, context.Canceled) || errors.Is(err, catalog.RateLimited) {
		t.Fatalf("Hash with a cancelled context = %v", err)
	}
	if ok, _, err := h.Verify(ctx, enc, "password"); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context = %v, %v", ok, err)
	}
	// Cancelled while waiting, not before.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if ok, _, err := h.Verify(ctx, enc, "password"); ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with a context ending while it waits = %v, %v", ok, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancelled callers waited %v", d)
	}
}

func TestPasswordPolicy(t *testing.T) {
	p := DefaultPasswordPolicy
	for pw, reason := range map[string]string{"short": "too_short", strings.Repeat("y", 257): "too_long", "Ada@Example.com": "contains_identifier"} {
		err := p.CheckPassword(pw, "ada@example.com")
		var ce *catalog.Error
		if !errors.As(err, &ce) || ce.Code != catalog.InvalidPassword.Code || ce.Details["reason"] != reason {
			t.Errorf("CheckPassword(%.20q) = %v, want %s", pw, err, reason)
		}
	}
	if err := p.CheckPassword("a perfectly fine passphrase", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{" Ada@Example.COM ": "ada@example.com"} {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"ada", "Ada <ada@example.com>", "ada@localhost", "a b@example.com"} {
		if _, err := NormalizeEmail(bad); !errors.Is(err, catalog.InvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %v", bad, err)
		}
	}
}

// BenchmarkVerify is one password check with the production parameters.
func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultArgon2, 0, time.Minute)
	ctx := context.Background()
	enc, _ := h.Hash(ctx, "correct horse battery staple")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, _ := h.Verify(ctx, enc, "correct horse battery staple"); !ok {
				b.Fatal("verify failed")
			}
		}
	})
}

// TestPasswordPolicyIdentifierNormalized: a password that is the email
// address is refused whatever Unicode form either is typed in (NFC or
// NFD, as CreateUser treats both as one address) and whatever its case:
// the same characters are the same identifier.
func TestPasswordPolicyIdentifierNormalized(t *testing.T) {
	p := DefaultPasswordPolicy
	for _, tc := range []struct{ password, email string }{
		{"ann@ex\u00e4mple.com", "ann@exa\u0308mple.com"},   // NFC password, NFD email
		{"ann@exa\u0308mple.com", "ann@ex\u00e4mple.com"},   // NFD password, NFC email
		{"ANN@EXA\u0308MPLE.COM", "ann@ex\u00e4mple.com"},   // NFD and upper case
		{" ann@ex\u00e4mple.com", "ann@exa\u0308mple.com "}, // blanks around
	} {
		err := p.CheckPassword(tc.password, tc.email)
		var ce *catalog.Error
		if !errors.As(err, &ce) || ce.Code != catalog.InvalidPassword.Code || ce.Details["reason"] != "contains_identifier" {
			t.Errorf("CheckPassword(%+q, %+q) = %v, want INVALID_PASSWORD contains_identifier", tc.password, tc.email, err)
		}
	}
}
