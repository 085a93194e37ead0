// Package cell signs and verifies Detour's cell header (config.HeaderCell),
// the region a request failed over to, so that only a Detour hop can make
// a later hop keep a request in a region: a workload that writes the
// header itself cannot produce a valid one.
//
// The header value is
//
//	<region>;<issued-at, Unix milliseconds>;<MAC>
//
// where MAC is HMAC-SHA256, truncated to 128 bits and base64url-encoded
// without padding (22 characters), over a domain tag, the value's
// "<region>;<issued-at>" prefix exactly as written, and the request's
// binding (its x-request-id), each separated by a NUL byte (which no
// header value contains, so the fields cannot run into each other). A
// verifier accepts a value whose MAC matches under one of its keys and
// whose issued-at is at most maxAge old (and at most MaxSkewMs in the
// future, for clocks that differ between proxies). Truncation to half the
// hash is what RFC 2104 section 5 allows; 2^-128 is the chance of guessing.
//
// Keys: several may be configured for rotation; the first signs, all
// verify. The package is plain Go (crypto/hmac, crypto/sha256, which work
// under wasip1) and allocates nothing per request once Keys is built.
package cell

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

const (
	// MinKeyBytes is the shortest key accepted: the hash's output length,
	// the least RFC 2104 section 3 recommends.
	MinKeyBytes = 32
	// MaxKeys bounds the work a forged header costs (one MAC per key).
	MaxKeys = 4
	// MaxSkewMs is how far in the future an issued-at may be: the signing
	// proxy's clock may run ahead of the verifying one's.
	MaxSkewMs = 1000
	// MaxRegionLen is the longest region (a Kubernetes label value).
	MaxRegionLen = 63
	// MaxValueLen is the longest header value Sign writes.
	MaxValueLen = MaxRegionLen + 1 + maxIatLen + 1 + macChars

	macBytes  = 16
	macChars  = 22 // base64url, no padding, of macBytes
	maxIatLen = 15 // Unix milliseconds until the year 33658
	domain    = "detour-cell-v1"
)

// Result is the outcome of a verification.
type Result uint8

const (
	// Valid: signed by a Detour hop with one of the keys, for this
	// request's binding, and fresh.
	Valid Result = iota
	// Malformed: not region;issued-at;MAC (a hand-written region, say).
	Malformed
	// Forged: well-formed but the MAC matches no key: written by someone
	// without the key, altered after signing, or replayed on a request
	// with another binding.
	Forged
	// Stale: authentic, but issued more than maxAge ago (a replay, or a
	// request chain that outlived maxAge) or too far in the future.
	Stale
)

func (r Result) String() string {
	switch r {
	case Valid:
		return "valid"
	case Malformed:
		return "malformed"
	case Forged:
		return "forged"
	case Stale:
		return "stale"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Keys signs and verifies. It keeps scratch space, so one Keys serves one
// thread (one Wasm VM) at a time.
type Keys struct {
	macs    [MaxKeys]hash.Hash
	n       int
	sum     [sha256.Size]byte
	enc     [macChars]byte
	scratch [64]byte
}

// ParseKeys reads keys from their configured form: standard base64 (with
// or without padding), separated by commas, surrounding spaces ignored
// (a Secret written from a file often ends in a newline). Each must decode
// to at least MinKeyBytes bytes; at most MaxKeys are accepted. The first
// signs.
func ParseKeys(s string) (*Keys, error) {
	parts := strings.Split(s, ",")
	if len(parts) > MaxKeys {
		return nil, fmt.Errorf("%d keys, at most %d are accepted", len(parts), MaxKeys)
	}
	var raw [][]byte
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("key %d: empty", i+1)
		}
		enc := base64.StdEncoding
		if !strings.HasSuffix(p, "=") {
			enc = base64.RawStdEncoding
		}
		k, err := enc.DecodeString(p)
		if err != nil {
			return nil, fmt.Errorf("key %d: not base64: %v", i+1, err)
		}
		if len(k) < MinKeyBytes {
			return nil, fmt.Errorf("key %d: %d bytes, at least %d are needed (e.g. head -c 32 /dev/urandom | base64)", i+1, len(k), MinKeyBytes)
		}
		raw = append(raw, k)
	}
	return NewKeys(raw...)
}

// NewKeys builds Keys from raw keys; the first signs.
func NewKeys(keys ...[]byte) (*Keys, error) {
	if len(keys) == 0 || len(keys) > MaxKeys {
		return nil, fmt.Errorf("%d keys: between 1 and %d are accepted", len(keys), MaxKeys)
	}
	k := &Keys{n: len(keys)}
	for i, raw := range keys {
		if len(raw) < MinKeyBytes {
			return nil, fmt.Errorf("key %d: %d bytes, at least %d are needed", i+1, len(raw), MinKeyBytes)
		}
		k.macs[i] = hmac.New(sha256.New, raw)
	}
	return k, nil
}

// Len is the number of keys.
func (k *Keys) Len() int { return k.n }

// errRegion is Sign's refusal of a region it could not verify later.
var errRegion = errors.New("cell: the region must be 1-63 letters, digits, '-', '_' or '.', the issued-at 0-15 digits")

const maxIat = 999_999_999_999_999

// Sign appends the header value for region, issued at iatMs, bound to
// binding, to dst and returns it. With dst of capacity MaxValueLen it
// does not allocate.
func (k *Keys) Sign(dst []byte, region string, iatMs int64, binding string) ([]byte, error) {
	if !validRegion(region) || iatMs < 0 || iatMs > maxIat {
		return dst, errRegion
	}
	start := len(dst)
	dst = append(dst, region...)
	dst = append(dst, ';')
	dst = strconv.AppendInt(dst, iatMs, 10)
	k.mac(0, dst[start:], "", binding)
	dst = append(dst, ';')
	return append(dst, k.enc[:]...), nil
}

// Verify checks a header value for binding at nowMs (Unix milliseconds);
// on Valid, region is the value's region (a substring of value).
func (k *Keys) Verify(value, binding string, nowMs, maxAgeMs int64) (region string, r Result) {
	if len(value) > MaxValueLen {
		return "", Malformed
	}
	semi := strings.LastIndexByte(value, ';')
	if semi < 0 || len(value)-semi-1 != macChars {
		return "", Malformed
	}
	signed, mac := value[:semi], value[semi+1:]
	rs := strings.IndexByte(signed, ';')
	if rs < 0 {
		return "", Malformed
	}
	region, iatText := signed[:rs], signed[rs+1:]
	iat, ok := parseIat(iatText)
	if !ok || !validRegion(region) {
		return "", Malformed
	}
	match := 0
	// Stopping at the first match reveals only which key signed a header
	// that is valid anyway; a forged one costs every key.
	for i := 0; i < k.n && match == 0; i++ {
		k.mac(i, nil, signed, binding)
		// Compare the encodings, not decoded bytes: base64's spare bits
		// then cannot make two texts of one MAC.
		match = subtle.ConstantTimeCompare(k.enc[:], k.macText(mac))
	}
	if match == 0 {
		return "", Forged
	}
	if iat < nowMs-maxAgeMs || iat > nowMs+MaxSkewMs {
		return "", Stale
	}
	return region, Valid
}

// macText copies the header's MAC into scratch space, so the comparison
// needs no []byte conversion (which would allocate).
func (k *Keys) macText(s string) []byte {
	n := copy(k.scratch[:macChars], s)
	return k.scratch[:n]
}

// mac leaves key i's MAC of (signedBytes or signed, binding) in k.enc.
func (k *Keys) mac(i int, signedBytes []byte, signed, binding string) {
	h := k.macs[i]
	h.Reset()
	k.write(h, domain)
	k.nul(h)
	if signedBytes != nil {
		h.Write(signedBytes)
	} else {
		k.write(h, signed)
	}
	k.nul(h)
	k.write(h, binding)
	sum := h.Sum(k.sum[:0])
	base64.RawURLEncoding.Encode(k.enc[:], sum[:macBytes])
}

// write feeds s to h through scratch space: h.Write([]byte(s)) would
// allocate, as the conversion escapes through the interface.
func (k *Keys) write(h hash.Hash, s string) {
	for len(s) > 0 {
		n := copy(k.scratch[:], s)
		h.Write(k.scratch[:n])
		s = s[n:]
	}
}

func (k *Keys) nul(h hash.Hash) {
	k.scratch[0] = 0
	h.Write(k.scratch[:1])
}

// parseIat reads a canonical non-negative decimal (no sign, no leading
// zero) of at most maxIatLen digits.
func parseIat(s string) (int64, bool) {
	if s == "" || len(s) > maxIatLen || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	var v int64
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// validRegion: a Kubernetes label value (what the intent's regions are).
func validRegion(s string) bool {
	if s == "" || len(s) > MaxRegionLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(s)-1 || c != '-' && c != '_' && c != '.') {
			return false
		}
	}
	return true
}
