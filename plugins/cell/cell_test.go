package cell

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = bytes.Repeat([]byte{0xb2}, 48)
	keyC = bytes.Repeat([]byte{0xc3}, 32)
)

const (
	now    = int64(1_800_000_000_000)
	maxAge = int64(10_000)
	rid    = "3f1c2a9e-7d2b-4c1a-9f0e-1b2c3d4e5f60"
)

func mustKeys(t testing.TB, raw ...[]byte) *Keys {
	t.Helper()
	k, err := NewKeys(raw...)
	require.NoError(t, err)
	return k
}

func sign(t testing.TB, k *Keys, region string, iat int64, binding string) string {
	t.Helper()
	v, err := k.Sign(nil, region, iat, binding)
	require.NoError(t, err)
	return string(v)
}

// The value's form and MAC, computed independently of the package's code.
func TestSignFormat(t *testing.T) {
	k := mustKeys(t, keyA)
	got := sign(t, k, "us-west1", now, rid)
	m := hmac.New(sha256.New, keyA)
	m.Write([]byte("detour-cell-v1\x00us-west1;1800000000000\x00" + rid))
	want := "us-west1;1800000000000;" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	assert.Equal(t, want, got)
	assert.LessOrEqual(t, len(sign(t, k, strings.Repeat("r", 63), 999_999_999_999_999, rid)), MaxValueLen)
}

func TestVerify(t *testing.T) {
	signer := mustKeys(t, keyA)
	valid := sign(t, signer, "us-west1", now, rid)
	mac := valid[strings.LastIndexByte(valid, ';')+1:]
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name    string
		keys    [][]byte
		value   string
		binding string
		now     int64
		want    Result
	}{
		{"valid", [][]byte{keyA}, valid, rid, now, Valid},
		{"valid at max age", [][]byte{keyA}, valid, rid, now + maxAge, Valid},
		{"valid a little in the future (skew)", [][]byte{keyA}, valid, rid, now - MaxSkewMs, Valid},
		{"rotation: an old key still verifies", [][]byte{keyB, keyA}, valid, rid, now, Valid},
		{"rotation: the key was dropped", [][]byte{keyB, keyC}, valid, rid, now, Forged},
		{"hand-written region", [][]byte{keyA}, "us-west1", rid, now, Malformed},
		{"empty", [][]byte{keyA}, "", rid, now, Malformed},
		{"region altered", [][]byte{keyA}, "eu-west1" + valid[len("us-west1"):], rid, now, Forged},
		{"issued-at altered (made fresh)", [][]byte{keyA}, "us-west1;1800000009000;" + mac, rid, now, Forged},
		{"issued-at with a leading zero", [][]byte{keyA}, "us-west1;01800000000000;" + mac, rid, now, Malformed},
		{"issued-at signed", [][]byte{keyA}, "us-west1;-1;" + mac, rid, now, Malformed},
		{"MAC altered", [][]byte{keyA}, flip(valid, len(valid)-1), rid, now, Forged},
		{"MAC altered first char", [][]byte{keyA}, flip(valid, len(valid)-22), rid, now, Forged},
		{"MAC truncated", [][]byte{keyA}, valid[:len(valid)-1], rid, now, Malformed},
		{"MAC too long", [][]byte{keyA}, valid + "A", rid, now, Malformed},
		{"replayed on another request", [][]byte{keyA}, valid, "another-request", now, Forged},
		{"replayed without a request id", [][]byte{keyA}, valid, "", now, Forged},
		{"replayed after max age", [][]byte{keyA}, valid, rid, now + maxAge + 1, Stale},
		{"too far in the future", [][]byte{keyA}, valid, rid, now - MaxSkewMs - 1, Stale},
		{"signed with another key", [][]byte{keyC}, valid, rid, now, Forged},
		{"region with a semicolon", [][]byte{keyA}, "us;west1;1800000000000;" + mac, rid, now, Malformed},
		{"region with a space", [][]byte{keyA}, "us west1;1800000000000;" + mac, rid, now, Malformed},
		{"three fields, region empty", [][]byte{keyA}, ";1800000000000;" + mac, rid, now, Malformed},
		{"oversized", [][]byte{keyA}, strings.Repeat("a", 200) + ";1;" + mac, rid, now, Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mustKeys(t, tc.keys...)
			region, got := k.Verify(tc.value, tc.binding, tc.now, maxAge)
			assert.Equal(t, tc.want.String(), got.String())
			if tc.want == Valid {
				assert.Equal(t, "us-west1", region)
			} else {
				assert.Empty(t, region)
			}
		})
	}
}

// Every issued value verifies for its own binding and no other; a long
// binding (x-request-id is the client's) passes the scratch buffer in pieces.
func TestRoundTrip(t *testing.T) {
	k := mustKeys(t, keyA, keyB)
	for _, region := range []string{"a", "us-east1", "eu_west.1", strings.Repeat("z", 63)} {
		for _, b := range []string{"", rid, strings.Repeat("x", 1000)} {
			v := sign(t, k, region, now, b)
			r, res := k.Verify(v, b, now, maxAge)
			require.Equal(t, Valid, res, "%s %q", region, b)
			assert.Equal(t, region, r)
			_, res = k.Verify(v, b+"1", now, maxAge)
			assert.Equal(t, Forged, res)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	k := mustKeys(t, keyA)
	for _, region := range []string{"", "-a", "a;b", "a b", strings.Repeat("r", 64)} {
		_, err := k.Sign(nil, region, now, rid)
		assert.Error(t, err, "%q", region)
	}
	_, err := k.Sign(nil, "us", -1, rid)
	assert.Error(t, err)
	_, err = k.Sign(nil, "us", 1_000_000_000_000_000, rid)
	assert.Error(t, err, "16 digits")
}

func TestParseKeys(t *testing.T) {
	a := base64.StdEncoding.EncodeToString(keyA)
	b := base64.RawStdEncoding.EncodeToString(keyB)
	k, err := ParseKeys(a + " , " + b + "\n")
	require.NoError(t, err)
	assert.Equal(t, 2, k.Len())
	// The first key signs.
	v := sign(t, k, "us", now, rid)
	_, res := mustKeys(t, keyA).Verify(v, rid, now, maxAge)
	assert.Equal(t, Valid, res)
	_, res = mustKeys(t, keyB).Verify(v, rid, now, maxAge)
	assert.Equal(t, Forged, res)

	short := base64.StdEncoding.EncodeToString(keyA[:31])
	for in, want := range map[string]string{
		"":                           "key 1: empty",
		a + ",":                      "key 2: empty",
		"not base64!":                "key 1: not base64",
		short:                        "key 1: 31 bytes, at least 32",
		strings.Repeat(a+",", 4) + a: "5 keys, at most 4",
	} {
		_, err := ParseKeys(in)
		if assert.Error(t, err, "%q", in) {
			assert.Contains(t, err.Error(), want)
		}
	}
}

// Per request, signing and verifying allocate nothing.
func TestAllocationFree(t *testing.T) {
	k := mustKeys(t, keyA, keyB)
	buf := make([]byte, 0, MaxValueLen)
	v := sign(t, k, "us-west1", now, rid)
	long := strings.Repeat("x", 300)
	forged := "us-west1;1800000000000;AAAAAAAAAAAAAAAAAAAAAA"
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if _, err := k.Sign(buf[:0], "us-west1", now, rid); err != nil {
			t.Fatal(err)
		}
		if _, r := k.Verify(v, rid, now, maxAge); r != Valid {
			t.Fatal(r)
		}
		if _, r := k.Verify(forged, long, now, maxAge); r != Forged {
			t.Fatal(r)
		}
	}))
}

func FuzzVerify(f *testing.F) {
	k := mustKeys(f, keyA, keyB)
	valid := sign(f, k, "us-west1", now, rid)
	f.Add(valid, rid, now)
	f.Add("us-west1", "", now)
	f.Add(";;", "x", int64(0))
	f.Add("a;0;AAAAAAAAAAAAAAAAAAAAAA", "", int64(-1))
	f.Fuzz(func(t *testing.T, value, binding string, at int64) {
		region, r := k.Verify(value, binding, at, maxAge)
		if r != Valid {
			if region != "" {
				t.Fatalf("%v with region %q", r, region)
			}
			return
		}
		// Only what a key signed verifies: the value is exactly the
		// signature of its own region and issued-at.
		if !strings.HasPrefix(value, region+";") {
			t.Fatalf("region %q not the value's prefix %q", region, value)
		}
		semi := strings.LastIndexByte(value, ';')
		iat, ok := parseIat(value[len(region)+1 : semi])
		if !ok {
			t.Fatalf("valid with issued-at %q", value)
		}
		again, err := k.Sign(nil, region, iat, binding)
		if err != nil || string(again) != value {
			t.Fatalf("valid %q is not what Sign writes (%q, %v)", value, again, err)
		}
	})
}

// The cost of one verification (the router's work for a request that
// carries a cell header) and one signature (a request it fails over).
func BenchmarkVerify(b *testing.B) {
	k := mustKeys(b, keyA)
	v := sign(b, k, "us-west1", now, rid)
	b.ReportAllocs()
	for b.Loop() {
		if _, r := k.Verify(v, rid, now, maxAge); r != Valid {
			b.Fatal(r)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k := mustKeys(b, keyA)
	buf := make([]byte, 0, MaxValueLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(buf[:0], "us-west1", now, rid); err != nil {
			b.Fatal(err)
		}
	}
}
