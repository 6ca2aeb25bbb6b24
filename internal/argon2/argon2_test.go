package argon2

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	upstream "golang.org/x/crypto/argon2"
)

// TestSameAsUpstream: for random inputs and parameters, with buffers reused
// across calls (holding the previous hash's blocks), the output is
// x/crypto's, byte for byte. Like x/crypto's TestArgon2 it runs once with
// the vector code the CPU has (SSE4.1 on amd64, LSX on loong64) and once
// without it (useSSE4 and useLSX exist on every platform, in
// blamka_generic.go).
func TestSameAsUpstream(t *testing.T) {
	defer func(sse4, lsx bool) { useSSE4, useLSX = sse4, lsx }(useSSE4, useLSX)
	if useSSE4 {
		t.Run("SSE4.1", testSameAsUpstream)
		useSSE4 = false
	}
	if useLSX {
		t.Run("LSX", testSameAsUpstream)
		useLSX = false
	}
	t.Run("generic", testSameAsUpstream)
}

func testSameAsUpstream(t *testing.T) {
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

// TestFreeListIdle: the kept buffers are let go once no hash has run for
// keepIdle, by the timer alone, and a hash after that works and keeps its
// buffer again.
func TestFreeListIdle(t *testing.T) {
	dropIdle()
	old := keepIdle
	keepIdle = 300 * time.Millisecond // long enough to see the buffer kept first
	defer func() { dropIdle(); keepIdle = old }()
	kept := func() int {
		free.Lock()
		defer free.Unlock()
		return len(free.bufs)
	}
	for round := range 2 {
		IDKey([]byte("pw"), []byte("salt-salt-salt"), 2, 64, 1, 32)
		if n := kept(); n != 1 {
			t.Fatalf("round %d: %d buffers kept after a hash, want 1", round, n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for kept() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: buffers still kept long after keepIdle", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestProcessBlockGeneric: the portable block function, which on amd64 and
// loong64 only a purego build uses, computes what the one this build uses
// does, for both the first pass (write) and later ones (XOR).
func TestProcessBlockGeneric(t *testing.T) {
	r := mrand.New(mrand.NewPCG(3, 4))
	for range 20 {
		var in1, in2, out block
		for i := range in1 {
			in1[i], in2[i], out[i] = r.Uint64(), r.Uint64(), r.Uint64()
		}
		for _, xor := range []bool{false, true} {
			got, want := out, out
			processBlockGeneric(&got, &in1, &in2, xor)
			if xor {
				processBlockXOR(&want, &in1, &in2)
			} else {
				processBlock(&want, &in1, &in2)
			}
			if got != want {
				t.Fatalf("xor=%v: processBlockGeneric differs from processBlock", xor)
			}
		}
	}
}

// TestFreeListNewestSize: after the memory parameter changes, buffers of
// the old size do not stay in the list (where they would never be reused
// and would keep the new size from being kept): giving back a buffer of
// another size drops them, and the new size is then reused.
func TestFreeListNewestSize(t *testing.T) {
	dropIdle()
	defer dropIdle()
	keep := runtime.GOMAXPROCS(0)
	held := func() (n int, sizes map[int]int) {
		free.Lock()
		defer free.Unlock()
		sizes = map[int]int{}
		for _, b := range free.bufs {
			sizes[len(b)]++
		}
		return len(free.bufs), sizes
	}
	var old [][]block
	for range keep + 1 { // one more than the list keeps
		old = append(old, getBlocks(64))
	}
	for _, b := range old {
		putBlocks(b)
	}
	if n, sizes := held(); n != keep || sizes[64] != keep {
		t.Fatalf("after %d puts of 64 blocks: %d kept %v, want %d", keep+1, n, sizes, keep)
	}

	b := getBlocks(128)
	putBlocks(b)
	if n, sizes := held(); n != 1 || sizes[128] != 1 {
		t.Fatalf("after a put of 128 blocks: %d kept %v, want only that one", n, sizes)
	}
	if again := getBlocks(128); &again[0] != &b[0] {
		t.Fatal("a buffer of the newest size was not reused")
	} else {
		putBlocks(again)
	}

	// Hashes with both sizes still match x/crypto, the list holding one size.
	for _, memory := range []uint32{64, 128, 64} {
		if got, want := IDKey([]byte("pw"), []byte("salt-salt"), 1, memory, 1, 32), upstream.IDKey([]byte("pw"), []byte("salt-salt"), 1, memory, 1, 32); !bytes.Equal(got, want) {
			t.Fatalf("m=%d: got %x, want %x", memory, got, want)
		}
		if n, sizes := held(); n != 1 || sizes[int(memory)] != 1 {
			t.Fatalf("after a hash with m=%d: %d kept %v", memory, n, sizes)
		}
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
