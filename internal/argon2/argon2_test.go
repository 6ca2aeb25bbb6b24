package argon2

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// TestSameAsUpstream: for random inputs and parameters, with buffers reused
// across calls (holding the previous hash's blocks), the output is
// x/crypto's, byte for byte.
func TestSameAsUpstream(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range 200 {
		pw, salt := make([]byte, r.IntN(64)), make([]byte, 8+r.IntN(24))
		_, _ = rand.Read(pw)
		_, _ = rand.Read(salt)
		time, memory, threads, keyLen := uint32(1+r.IntN(3)), uint32(8+r.IntN(512)), uint8(1+r.IntN(4)), uint32(4+r.IntN(60))
		if i%3 == 0 {
			memory = 64 // the same size again and again: pooled buffers reused
		}
		got := IDKey(pw, salt, time, memory, threads, keyLen)
		want := upstream.IDKey(pw, salt, time, memory, threads, keyLen)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (t=%d m=%d p=%d len=%d): got %x, want %x", i, time, memory, threads, keyLen, got, want)
		}
	}
}

// TestKnownAnswer: RFC 9106 §5.3's Argon2id inputs without its secret and
// associated data (IDKey takes neither), against x/crypto.
func TestKnownAnswer(t *testing.T) {
	pw, salt := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	got := hex.EncodeToString(IDKey(pw, salt, 3, 32, 4, 32))
	want := hex.EncodeToString(upstream.IDKey(pw, salt, 3, 32, 4, 32))
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func BenchmarkIDKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		IDKey([]byte("password"), []byte("0123456789abcdef"), 3, 19*1024, 1, 32)
	}
}

func BenchmarkUpstreamIDKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		upstream.IDKey([]byte("password"), []byte("0123456789abcdef"), 3, 19*1024, 1, 32)
	}
}
