package login

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/internal/argon2"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are the argon2id cost parameters. They are stored in every
// hash (PHC string), so raising them later only affects new hashes; old
// ones are re-hashed on the next successful login.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultArgon2 is OWASP's argon2id configuration (19 MiB, p=1) with one
// pass more than its minimum (t=3): stronger, still ~35 ms of one core, and
// with the hashing limit below a login burst cannot exhaust memory (19 MiB
// per running hash). config.Default().Passwords holds the same numbers.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 3, Threads: 1, KeyLen: 32, SaltLen: 16}

// Hasher hashes and verifies passwords with argon2id, at most Limit at a
// time: each hash holds Memory KiB while it runs, so unbounded concurrency
// would let a burst of sign-ins exhaust memory. Callers that cannot get a
// slot within Wait get RATE_LIMITED (429), never a 500.
type Hasher struct {
	Params Argon2Params
	slots  chan struct{}
	wait   time.Duration
	dummy  string
}

// HashSlots is how many hashes a Hasher made with limit runs at once:
// limit, or GOMAXPROCS when limit is not positive.
func HashSlots(limit int) int {
	if limit <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return limit
}

// NewHasher returns a Hasher allowing limit concurrent hashes (default
// GOMAXPROCS) and queueing callers up to wait (default 5s).
func NewHasher(p Argon2Params, limit int, wait time.Duration) *Hasher {
	limit = HashSlots(limit)
	if wait <= 0 {
		wait = 5 * time.Second
	}
	h := &Hasher{Params: p, slots: make(chan struct{}, limit), wait: wait}
	h.dummy = dummyHash(p)
	return h
}

func (h *Hasher) acquire(ctx context.Context) error {
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return catalog.RateLimited.WithRetryAfter(1).WithMessage("Too many sign-ins at once. Try again in a moment.")
	}
}

func (h *Hasher) release() { <-h.slots }

// normalize applies NFC, so the same password typed on different systems
// hashes the same (NIST SP 800-63B §5.1.1.2). Nothing is truncated.
func normalize(password string) []byte { return []byte(norm.NFC.String(password)) }

// dummyHash is a well-formed hash with the current parameters of a secret
// nobody knows (random salt and key): verifying any password against it
// costs exactly a real verification and always fails. Made without hashing,
// so start-up does not allocate Memory KiB it would then keep.
func dummyHash(p Argon2Params) string {
	salt, key := make([]byte, p.SaltLen), make([]byte, p.KeyLen)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	return encodePHC(p, salt, key)
}

// encodePHC returns the PHC string of an argon2id hash: the version, p's
// cost parameters (not its lengths: they are those of salt and key), salt
// and key. parsePHC reads it back.
func encodePHC(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Hash returns the PHC string of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(normalize(password)), nil
}

func (h *Hasher) hash(pw []byte) string {
	p := h.Params
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key)
}

// Verify reports whether password matches the PHC string encoded, in
// constant time, and whether the hash should be upgraded (weaker
// parameters than the current ones). An empty encoded verifies against a
// dummy hash, so an unknown account costs the same time as a known one.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if encoded == "" {
		encoded = h.dummy
	}
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := argon2.IDKey(normalize(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	h.release()
	ok = subtle.ConstantTimeCompare(got, want) == 1 && encoded != h.dummy
	rehash = p.Memory < h.Params.Memory || p.Time < h.Params.Time
	return ok, rehash, nil
}

var errBadHash = errors.New("login: malformed argon2id hash")

// The largest cost parameters a stored hash may ask for. A hash is data
// from the database: without bounds, m=4294967295 would make argon2 try to
// allocate 4 TiB (a fatal out-of-memory, not an error) and a huge t would
// hold a hashing slot for hours. Memory and passes are the ranges
// config.Validate accepts for new hashes; parallelism is capped well above
// the p=1 gatehouse writes.
const (
	maxMemoryKiB = 4 * 1024 * 1024
	maxTime      = 64
	maxThreads   = 16
	minSaltLen   = 8
)

// parsePHC reads a PHC string as encodePHC writes it, strictly: every field
// in order, decimal numbers without anything after them, the current
// version, cost parameters within bounds, a salt of at least 8 bytes and a
// key of at least 16 bytes.
func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	costs := strings.Split(parts[3], ",")
	if len(costs) != 3 {
		return p, nil, nil, errBadHash
	}
	m, errM := parseCost(costs[0], "m=", maxMemoryKiB)
	t, errT := parseCost(costs[1], "t=", maxTime)
	threads, errP := parseCost(costs[2], "p=", maxThreads)
	if errM != nil || errT != nil || errP != nil {
		return p, nil, nil, errBadHash
	}
	p.Memory, p.Time, p.Threads = m, t, uint8(threads)
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	// RFC 9106 §3.1: a salt MUST be at least 8 bytes; a hash without one
	// (or with a few bytes) is open to precomputed tables and is refused
	// like any other unusable hash.
	if err1 != nil || err2 != nil || len(salt) < minSaltLen || len(key) < 16 {
		return p, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// parseCost reads "<name><n>" with n a decimal number in 1..max, and
// nothing else (no sign, no space, nothing after the digits).
func parseCost(s, name string, max uint32) (uint32, error) {
	digits, ok := strings.CutPrefix(s, name)
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, errBadHash
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n == 0 || n > uint64(max) {
		return 0, errBadHash
	}
	return uint32(n), nil
}
