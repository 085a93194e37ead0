package httpsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGrpcPercentEncode(t *testing.T) {
	assert.Equal(t, "no route", grpcPercentEncode("no route"))
	assert.Equal(t, "100%25 %0A%7E%C3%A9}", grpcPercentEncode("100% \n~é}"))
}

func TestHTTPToGrpcStatus(t *testing.T) {
	for code, want := range map[int]int{400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14, 500: 2, 418: 2} {
		assert.Equal(t, want, HTTPToGrpcStatus(code), "%d", code)
	}
}
