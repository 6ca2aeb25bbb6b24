package login

import (
	"context"
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
