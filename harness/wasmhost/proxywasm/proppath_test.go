package proxywasm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSplitPath: the stack split of a property path is strings.Split's
// without the empty segment after a trailing NUL, for paths longer than
// the stack buffer too, and allocates nothing for Envoy's attribute paths.
func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"", []string{}},
		{"a", []string{"a"}},
		{"xds\x00cluster_name", []string{"xds", "cluster_name"}},
		{"upstream\x00address", []string{"upstream", "address"}},
		{"\x00", []string{""}},
		{"a\x00", []string{"a"}},
		{"a\x00\x00", []string{"a", ""}},
		{"\x00a", []string{"", "a"}},
		{"a\x00\x00b", []string{"a", "", "b"}},
		{strings.Repeat("s\x00", 12) + "end", append(strings.Split(strings.Repeat("s\x00", 12), "\x00")[:12], "end")},
		{strings.Repeat("s\x00", 12), strings.Split(strings.Repeat("s\x00", 12), "\x00")[:12]},
	} {
		var buf [maxPathSegments]string
		assert.Equal(t, tc.want, splitPath([]byte(tc.path), &buf), "%q", tc.path)
	}
	b := []byte("upstream\x00request_attempt_count")
	allocs := testing.AllocsPerRun(100, func() {
		var buf [maxPathSegments]string
		if len(splitPath(b, &buf)) != 2 {
			t.Fatal("two segments")
		}
	})
	assert.Zero(t, allocs)
}

// Envoy's Context::getProperty (source/extensions/common/wasm/context.cc)
// walks the NUL-separated parts while its cursor is inside the path: a
// trailing NUL adds no empty part, so "plugin_vm_id\x00" is plugin_vm_id,
// while a second trailing NUL asks for an empty field below it.
func TestGetPropertyTrailingNUL(t *testing.T) {
	vm := &VM{cfg: VMConfig{VMID: "vm-1"}}
	for _, tc := range []struct {
		path string
		want []byte
		st   Status
	}{
		{"plugin_vm_id", []byte("vm-1"), StatusOK},
		{"plugin_vm_id\x00", []byte("vm-1"), StatusOK},
		{"plugin_vm_id\x00\x00", nil, StatusNotFound},
		{"\x00plugin_vm_id", nil, StatusNotFound},
		{"", nil, StatusNotFound},
		{"\x00", nil, StatusNotFound},
	} {
		var buf [maxPathSegments]string
		got, st := vm.getProperty(nil, splitPath([]byte(tc.path), &buf))
		assert.Equal(t, tc.st, st, "%q", tc.path)
		assert.Equal(t, tc.want, got, "%q", tc.path)
	}
}
