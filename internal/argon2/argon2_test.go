package argon2

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"runtime"
	"sync"
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

// TestConcurrentFreeList: many hashes at once, each with its own inputs, all
// match x/crypto (no buffer is shared by two hashes; run with -race), and
// afterwards the free list keeps at most GOMAXPROCS buffers; dropIdle
// empties it.
func TestConcurrentFreeList(t *testing.T) {
	const n = 16
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = IDKey([]byte{byte(i)}, []byte("salt-salt-salt"), 2, 256, 1, 32) })
	}
	wg.Wait()
	for i := range n {
		if want := upstream.IDKey([]byte{byte(i)}, []byte("salt-salt-salt"), 2, 256, 1, 32); !bytes.Equal(got[i], want) {
			t.Fatalf("hash %d: got %x, want %x", i, got[i], want)
		}
	}
	free.Lock()
	kept := len(free.bufs)
	free.Unlock()
	if kept < 1 || kept > runtime.GOMAXPROCS(0) {
		t.Fatalf("%d buffers kept, want 1..%d", kept, runtime.GOMAXPROCS(0))
	}
	dropIdle()
	free.Lock()
	kept = len(free.bufs)
	free.Unlock()
	if kept != 0 {
		t.Fatalf("%d buffers kept after dropIdle", kept)
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
