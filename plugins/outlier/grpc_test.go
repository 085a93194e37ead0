package outlier

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassifyGrpc(t *testing.T) {
	for _, c := range []struct {
		code, grpc int
		want       Outcome
	}{
		{200, 0, Success},
		{200, 14, Gateway}, // UNAVAILABLE → 503
		{200, 4, Gateway},  // DEADLINE_EXCEEDED → 504
		{200, 13, Ext5xx},  // INTERNAL → 500
		{200, 2, Ext5xx},   // UNKNOWN → 500
		{200, 15, Ext5xx},  // DATA_LOSS → 500
		{200, 12, Ext5xx},  // UNIMPLEMENTED → 501
		{200, 99, Ext5xx},  // undefined → 500
		{200, 1, Success},  // CANCELLED → 499
		{200, 8, Success},  // RESOURCE_EXHAUSTED → 429
		{200, 5, Success},  // NOT_FOUND → 404
		{503, 0, Gateway},  // not a 200: :status decides
	} {
		assert.Equal(t, c.want, ClassifyGrpc(c.code, 0, false, c.grpc), "%d grpc-status %d", c.code, c.grpc)
	}
	assert.Equal(t, LocalOrigin, ClassifyGrpc(200, 0, true, 0), "a reset stays local-origin")
}

func TestParseGrpcStatus(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "14": 14, "016": 16} {
		n, ok := ParseGrpcStatus(v)
		assert.True(t, ok, v)
		assert.Equal(t, want, n, v)
	}
	for _, v := range []string{"", "-1", "1x", "12345", " 1"} {
		_, ok := ParseGrpcStatus(v)
		assert.False(t, ok, v)
	}
}

func FuzzParseGrpcStatus(f *testing.F) {
	f.Add("14")
	f.Fuzz(func(t *testing.T, v string) {
		if n, ok := ParseGrpcStatus(v); ok && (n < 0 || n > 9999) {
			t.Fatalf("%q → %d", v, n)
		}
		if o := ClassifyGrpc(200, 0, false, len(v)); o > Ignored {
			t.Fatalf("outcome %d", o)
		}
	})
}
