package timelinetest

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
)

// Render is the picture of p.
func Render(t testing.TB, p timeline.Plot) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, timeline.Render(&b, p))
	return b.Bytes()
}

// WellFormed parses the whole document as XML.
func WellFormed(t testing.TB, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		require.NoError(t, err, "the SVG is not well-formed XML")
	}
}
