package proxywasm

import (
	"bytes"
	"compress/zlib"
	"io"
)

// foreignFunction is one of Envoy's registered foreign functions.
type foreignFunction func(vm *VM, c *contextState, args []byte) ([]byte, Status)

var foreignFunctions = map[string]foreignFunction{
	"compress": func(_ *VM, _ *contextState, args []byte) ([]byte, Status) {
		out, ok := zlibCompress(args)
		if !ok {
			return nil, StatusSerializationFailure
		}
		return out, StatusOK
	},
	"uncompress": func(_ *VM, _ *contextState, args []byte) ([]byte, Status) {
		r, err := zlib.NewReader(bytes.NewReader(args))
		if err != nil {
			return nil, StatusSerializationFailure
		}
		out, err := io.ReadAll(r)
		if err != nil {
			return nil, StatusSerializationFailure
		}
		return out, StatusOK
	},
	// clear_route_cache (Envoy 1.33+) makes the router re-select the route.
	"clear_route_cache": func(_ *VM, c *contextState, _ []byte) ([]byte, Status) {
		if c != nil && c.stream != nil && c.stream.cb != nil {
			c.stream.cb.ClearRouteCache()
		}
		return nil, StatusOK
	},
	// declare_property and set_envoy_filter_state take protobuf arguments the
	// harness does not model; they are accepted so plugins that call them
	// keep running (see README gaps).
	"declare_property":       func(*VM, *contextState, []byte) ([]byte, Status) { return nil, StatusOK },
	"set_envoy_filter_state": func(*VM, *contextState, []byte) ([]byte, Status) { return nil, StatusOK },
}
