package proxywasm

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// envFunctions is every env import the host provides (proxy_get_log_level
// only for 0_2_1 modules, see envAllowed).
var envFunctions = map[string]bool{}

// initAllowed is the restricted allowlist in force during _initialize
// (cpp-host #427): anything else traps.
var initAllowed = map[string]bool{
	"env.proxy_log": true,
	"wasi.fd_write": true, "wasi.args_sizes_get": true, "wasi.args_get": true,
	"wasi.environ_sizes_get": true, "wasi.environ_get": true, "wasi.fd_prestat_get": true,
	"wasi.fd_prestat_dir_name": true, "wasi.clock_time_get": true, "wasi.random_get": true,
	"wasi.fd_fdstat_get": true, "wasi.fd_fdstat_set_flags": true,
}

// init533Allowed are the extra start-time calls #533 allows.
var init533Allowed = map[string]bool{
	"env.emscripten_notify_memory_growth": true, "wasi.clock_res_get": true, "wasi.poll_oneoff": true,
}

// restricted guards a host function against use during module start.
func restricted(key string, fn api.GoModuleFunc) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		vm := vmFrom(ctx)
		if vm.initializing && !initAllowed[key] && !(vm.cfg.Compat.WASI533 && init533Allowed[key]) {
			panic(fmt.Errorf("restricted_callback: %s is not allowed during module start", key))
		}
		if vm.p.HostCall != nil {
			vm.p.HostCall(vm.cfg.VMID, vm.cfg.Worker, key)
		}
		fn(ctx, m, stack)
	}
}

func u32(v uint64) uint32 { return uint32(v) }

func ret(stack []uint64, s Status) { stack[0] = uint64(s) }

// env wraps a proxy_* function body that gets the VM and the effective
// context and returns a Status.
func env(name string, nparams int, body func(vm *VM, c *contextState, s []uint64) Status) hostFn {
	envFunctions[name] = true
	return hostFn{name: name, params: types(nparams), results: types(1),
		fn: restricted("env."+name, func(ctx context.Context, _ api.Module, stack []uint64) {
			vm := vmFrom(ctx)
			ret(stack, body(vm, vm.effectiveContext(), stack))
		})}
}

func (vm *VM) str(ptr, size uint64) string {
	s, ok := vm.readString(u32(ptr), u32(size))
	if !ok {
		panic(fmt.Errorf("invalid memory access reading %d bytes at %d", size, ptr))
	}
	return s
}

func (vm *VM) bytes(ptr, size uint64) []byte {
	b, ok := vm.read(u32(ptr), u32(size))
	if !ok {
		panic(fmt.Errorf("invalid memory access reading %d bytes at %d", size, ptr))
	}
	return b
}

func (c *contextState) rootCtx() *Root {
	if c == nil {
		return nil
	}
	return c.root
}

// mapFor returns the map of type t for c, or nil if Envoy would consider it
// unavailable now. write asks for a mutable map.
func (vm *VM) mapFor(c *contextState, t MapType, write bool) *Headers {
	switch t {
	case MapHTTPCallResponseHeaders, MapHTTPCallResponseTrailers:
		if write || vm.callResponse == nil {
			return nil
		}
		if t == MapHTTPCallResponseHeaders {
			return vm.callResponse.headers
		}
		return vm.callResponse.trailers
	case MapGrpcInitialMetadata, MapGrpcTrailingMetadata:
		return nil
	}
	if c == nil || c.stream == nil {
		return nil
	}
	s := c.stream
	if s.logPhase && write {
		return nil
	}
	switch t {
	case MapRequestHeaders:
		return s.reqHeaders
	case MapResponseHeaders:
		return s.respHeaders
	case MapRequestTrailers:
		return s.trailers(0, s.reqTrailers, s.reqBody != nil && s.reqEOS, write)
	case MapResponseTrailers:
		return s.trailers(1, s.respTrailers, s.respBody != nil && s.respEOS, write)
	}
	return nil
}

// mutated clears the route cache after a request header change: automatic
// for ABI <= 0.2.1, which is every module this host accepts.
func mutated(vm *VM, c *contextState, t MapType) {
	if t == MapRequestHeaders && c.stream != nil && c.stream.cb != nil && !vm.cfg.Compat.ExplicitRouteRefresh {
		c.stream.cb.ClearRouteCache()
	}
}

func (vm *VM) buffer(c *contextState, t BufferType) ([]byte, *Buffer, bool) {
	switch t {
	case BufferVMConfiguration:
		return vm.cfg.Configuration, nil, true
	case BufferPluginConfiguration:
		if !vm.inConfigure {
			return nil, nil, false
		}
		return vm.pluginConfig, nil, true
	case BufferHTTPCallResponseBody:
		if vm.callResponse == nil {
			return nil, nil, false
		}
		return vm.callResponse.body, nil, true
	case BufferForeignFunctionArguments:
		if vm.foreignArgs == nil {
			return nil, nil, false
		}
		return vm.foreignArgs, nil, true
	case BufferRequestBody, BufferResponseBody:
		if c == nil || c.stream == nil || c.stream.logPhase {
			return nil, nil, false
		}
		b := c.stream.reqBody
		if t == BufferResponseBody {
			b = c.stream.respBody
		}
		if b == nil {
			return nil, nil, false
		}
		return b.Data, b, true
	}
	return nil, nil, false
}

var (
	envOnce sync.Once
	envFns  []hostFn
)

func registerEnv(ctx context.Context, rt wazero.Runtime) error {
	envOnce.Do(func() { envFns = buildEnv() })
	return register(ctx, rt, "env", envFns)
}

func buildEnv() []hostFn {
	fns := []hostFn{
		env("proxy_log", 3, func(vm *VM, c *contextState, s []uint64) Status {
			level := LogLevel(u32(s[0]))
			if level > LogCritical {
				return StatusBadArgument
			}
			var info *StreamInfo
			if c != nil && c.stream != nil {
				info = c.stream.info
			}
			vm.p.logFrom(vm, c.rootCtx(), info, level, vm.str(s[1], s[2]))
			return StatusOK
		}),
		env("proxy_get_log_level", 1, func(vm *VM, _ *contextState, s []uint64) Status {
			return vm.writeU32(u32(s[0]), uint32(vm.p.LogLevel))
		}),
		env("proxy_get_current_time_nanoseconds", 1, func(vm *VM, _ *contextState, s []uint64) Status {
			if !vm.mem().WriteUint64Le(u32(s[0]), uint64(vm.p.Clock.Now().UnixNano())) {
				return StatusInvalidMemoryAccess
			}
			return StatusOK
		}),
		env("proxy_set_tick_period_milliseconds", 1, func(vm *VM, c *contextState, s []uint64) Status {
			if c == nil {
				return StatusBadArgument
			}
			c.root.setTick(time.Duration(u32(s[0])) * time.Millisecond)
			return StatusOK
		}),
		env("proxy_set_effective_context", 1, func(vm *VM, _ *contextState, s []uint64) Status {
			id := u32(s[0])
			if _, ok := vm.contexts[id]; !ok {
				return StatusBadArgument
			}
			vm.effective = id
			return StatusOK
		}),
		env("proxy_done", 0, func(vm *VM, c *contextState, _ []uint64) Status {
			r := c.rootCtx()
			if r == nil || !r.pendingDone {
				return StatusNotFound
			}
			vm.after = append(vm.after, r.delete)
			return StatusOK
		}),
		env("proxy_get_buffer_bytes", 5, func(vm *VM, c *contextState, s []uint64) Status {
			t, start, length := BufferType(u32(s[0])), u32(s[1]), u32(s[2])
			if t > BufferForeignFunctionArguments {
				return StatusBadArgument
			}
			data, _, ok := vm.buffer(c, t)
			if !ok {
				return StatusNotFound
			}
			if start+length < start {
				return StatusBadArgument
			}
			if int(start) > len(data) {
				return StatusOK
			}
			if int(start+length) > len(data) {
				length = uint32(len(data)) - start
			}
			if length == 0 {
				return StatusOK
			}
			return vm.copyOut(data[start:start+length], u32(s[3]), u32(s[4]))
		}),
		env("proxy_get_buffer_status", 3, func(vm *VM, c *contextState, s []uint64) Status {
			t := BufferType(u32(s[0]))
			if t > BufferForeignFunctionArguments {
				return StatusBadArgument
			}
			data, _, ok := vm.buffer(c, t)
			if !ok {
				return StatusNotFound
			}
			if st := vm.writeU32(u32(s[1]), uint32(len(data))); st != StatusOK {
				return st
			}
			return vm.writeU32(u32(s[2]), 0)
		}),
		env("proxy_set_buffer_bytes", 5, func(vm *VM, c *contextState, s []uint64) Status {
			t, start, length := BufferType(u32(s[0])), int(u32(s[1])), int(u32(s[2]))
			if t > BufferForeignFunctionArguments {
				return StatusBadArgument
			}
			data := vm.bytes(s[3], s[4])
			_, b, ok := vm.buffer(c, t)
			if !ok {
				return StatusNotFound
			}
			if b == nil {
				return StatusBadArgument // immutable (configuration, http-call body)
			}
			return copyFrom(b, start, length, data, vm.cfg.Compat.LegacyCopyFrom)
		}),
		env("proxy_get_header_map_pairs", 3, func(vm *VM, c *contextState, s []uint64) Status {
			t := MapType(u32(s[0]))
			if t > MapHTTPCallResponseTrailers {
				return StatusBadArgument
			}
			h := vm.mapFor(c, t, false)
			if h == nil {
				return vm.copyOut(nil, u32(s[1]), u32(s[2]))
			}
			// Serialized straight from the map, as Envoy does (no copy of
			// the pairs first).
			return vm.copyOut(encodePairs(h.pairs), u32(s[1]), u32(s[2]))
		}),
		env("proxy_set_header_map_pairs", 3, func(vm *VM, c *contextState, s []uint64) Status {
			t := MapType(u32(s[0]))
			if t > MapHTTPCallResponseTrailers {
				return StatusBadArgument
			}
			h := vm.mapFor(c, t, true)
			if h == nil {
				return StatusBadArgument
			}
			h.Replace(decodePairs(vm.bytes(s[1], s[2])))
			mutated(vm, c, t)
			return StatusOK
		}),
		env("proxy_get_header_map_size", 2, func(vm *VM, c *contextState, s []uint64) Status {
			t := MapType(u32(s[0]))
			if t > MapHTTPCallResponseTrailers {
				return StatusBadArgument
			}
			// Envoy sizes the mutable map: unavailable in the log phase.
			h := vm.mapFor(c, t, true)
			if h == nil {
				return StatusBadArgument
			}
			return vm.writeU32(u32(s[1]), uint32(h.ByteSize()))
		}),
		env("proxy_get_header_map_value", 5, func(vm *VM, c *contextState, s []uint64) Status {
			t := MapType(u32(s[0]))
			if t > MapHTTPCallResponseTrailers {
				return StatusBadArgument
			}
			h := vm.mapFor(c, t, false)
			if h == nil {
				if c != nil && c.stream != nil && c.stream.logPhase {
					return StatusNotFound
				}
				return StatusBadArgument
			}
			v, ok := h.Get(vm.str(s[1], s[2]))
			if !ok {
				return StatusNotFound
			}
			return vm.copyOut([]byte(v), u32(s[3]), u32(s[4]))
		}),
		env("proxy_add_header_map_value", 5, mutateMap(func(h *Headers, vm *VM, s []uint64) { h.Add(vm.str(s[1], s[2]), vm.str(s[3], s[4])) })),
		env("proxy_replace_header_map_value", 5, mutateMap(func(h *Headers, vm *VM, s []uint64) { h.Set(vm.str(s[1], s[2]), vm.str(s[3], s[4])) })),
		env("proxy_remove_header_map_value", 3, mutateMap(func(h *Headers, vm *VM, s []uint64) { h.Remove(vm.str(s[1], s[2])) })),
		env("proxy_continue_stream", 1, func(vm *VM, c *contextState, s []uint64) Status {
			t := StreamType(u32(s[0]))
			if t > StreamUpstream {
				return StatusBadArgument
			}
			if t == StreamUpstream || t == StreamDownstream {
				return StatusUnimplemented
			}
			if c == nil || c.stream == nil {
				return StatusNotFound
			}
			st := c.stream
			if t == StreamRequest {
				st.reqHeaders, st.reqBody, st.reqTrailers = nil, nil, nil
			} else {
				st.respHeaders, st.respBody, st.respTrailers = nil, nil, nil
			}
			vm.after = append(vm.after, func() { st.cb.ContinueStream(t) })
			return StatusOK
		}),
		env("proxy_close_stream", 1, func(vm *VM, c *contextState, s []uint64) Status {
			t := StreamType(u32(s[0]))
			if t > StreamUpstream {
				return StatusBadArgument
			}
			if c == nil || c.stream == nil {
				return StatusNotFound
			}
			st := c.stream
			vm.after = append(vm.after, func() { st.cb.ResetStream("wasm_close_stream") })
			return StatusOK
		}),
		env("proxy_send_local_response", 8, func(vm *VM, c *contextState, s []uint64) Status {
			if c == nil || c.stream == nil {
				return StatusNotFound
			}
			st := c.stream
			lr := LocalReply{
				Status:     int(u32(s[0])),
				Details:    strings.Join(strings.Fields(vm.str(s[1], s[2])), "_"),
				Body:       vm.str(s[3], s[4]),
				Headers:    NewHeaders(decodePairs(vm.bytes(s[5], s[6]))).Pairs(),
				GrpcStatus: int(int32(u32(s[7]))),
			}
			if lr.GrpcStatus < 0 || lr.GrpcStatus > 16 {
				lr.GrpcStatus = -1
			}
			st.localReplySent = true
			st.stopNext = true
			vm.after = append(vm.after, func() { st.cb.SendLocalReply(lr) })
			return StatusOK
		}),
		env("proxy_get_status", 3, func(vm *VM, _ *contextState, s []uint64) Status {
			if st := vm.writeU32(u32(s[0]), vm.status.code); st != StatusOK {
				return st
			}
			return vm.copyOut([]byte(vm.status.msg), u32(s[1]), u32(s[2]))
		}),
		env("proxy_http_call", 10, func(vm *VM, c *contextState, s []uint64) Status {
			if c == nil {
				return StatusBadArgument
			}
			token, st := vm.httpCall(c, vm.str(s[0], s[1]), decodePairs(vm.bytes(s[2], s[3])),
				vm.bytes(s[4], s[5]), decodePairs(vm.bytes(s[6], s[7])), u32(s[8]))
			if st != StatusOK {
				return st
			}
			return vm.writeU32(u32(s[9]), token)
		}),
		env("proxy_grpc_call", 12, func(vm *VM, _ *contextState, s []uint64) Status {
			return vm.grpcUnsupported()
		}),
		env("proxy_grpc_stream", 9, func(vm *VM, _ *contextState, s []uint64) Status {
			return vm.grpcUnsupported()
		}),
		env("proxy_grpc_send", 4, func(*VM, *contextState, []uint64) Status { return StatusNotFound }),
		env("proxy_grpc_cancel", 1, func(*VM, *contextState, []uint64) Status { return StatusNotFound }),
		env("proxy_grpc_close", 1, func(*VM, *contextState, []uint64) Status { return StatusNotFound }),
		env("proxy_get_shared_data", 5, func(vm *VM, _ *contextState, s []uint64) Status {
			v, cas, st := vm.p.guestGetSharedData(vm.cfg.VMID, vm.str(s[0], s[1]))
			if st != StatusOK {
				return st
			}
			if st := vm.copyOut(v, u32(s[2]), u32(s[3])); st != StatusOK {
				return st
			}
			return vm.writeU32(u32(s[4]), cas)
		}),
		env("proxy_set_shared_data", 5, func(vm *VM, _ *contextState, s []uint64) Status {
			return vm.p.SetSharedData(vm.cfg.VMID, vm.str(s[0], s[1]), vm.bytes(s[2], s[3]), u32(s[4]))
		}),
		env("proxy_register_shared_queue", 3, func(vm *VM, c *contextState, s []uint64) Status {
			if c == nil {
				return StatusBadArgument
			}
			return vm.writeU32(u32(s[2]), vm.p.registerQueue(vm.cfg.VMID, vm.str(s[0], s[1]), c.root))
		}),
		env("proxy_resolve_shared_queue", 5, func(vm *VM, _ *contextState, s []uint64) Status {
			vmID := vm.str(s[0], s[1])
			if vmID == "" {
				vmID = vm.cfg.VMID
			}
			id, ok := vm.p.resolveQueue(vmID, vm.str(s[2], s[3]))
			if !ok {
				return StatusNotFound
			}
			return vm.writeU32(u32(s[4]), id)
		}),
		env("proxy_enqueue_shared_queue", 3, func(vm *VM, _ *contextState, s []uint64) Status {
			return vm.p.enqueue(u32(s[0]), vm.bytes(s[1], s[2]))
		}),
		env("proxy_dequeue_shared_queue", 3, func(vm *VM, _ *contextState, s []uint64) Status {
			v, st := vm.p.dequeue(u32(s[0]))
			if st != StatusOK {
				return st
			}
			return vm.copyOut(v, u32(s[1]), u32(s[2]))
		}),
		env("proxy_define_metric", 4, func(vm *VM, _ *contextState, s []uint64) Status {
			id, st := vm.defineMetric(MetricType(u32(s[0])), vm.str(s[1], s[2]))
			if st != StatusOK {
				return st
			}
			return vm.writeU32(u32(s[3]), id)
		}),
		{name: "proxy_increment_metric", params: []api.ValueType{i32, i64}, results: types(1),
			fn: restricted("env.proxy_increment_metric", func(ctx context.Context, _ api.Module, s []uint64) {
				ret(s, vmFrom(ctx).incrementMetric(u32(s[0]), int64(s[1])))
			})},
		{name: "proxy_record_metric", params: []api.ValueType{i32, i64}, results: types(1),
			fn: restricted("env.proxy_record_metric", func(ctx context.Context, _ api.Module, s []uint64) {
				ret(s, vmFrom(ctx).recordMetric(u32(s[0]), s[1]))
			})},
		env("proxy_get_metric", 2, func(vm *VM, _ *contextState, s []uint64) Status {
			v, st := vm.getMetric(u32(s[0]))
			if st != StatusOK {
				return st
			}
			if !vm.mem().WriteUint64Le(u32(s[1]), v) {
				return StatusInvalidMemoryAccess
			}
			return StatusOK
		}),
		env("proxy_get_property", 4, func(vm *VM, c *contextState, s []uint64) Status {
			var buf [maxPathSegments]string
			v, st := vm.getProperty(c, vm.propertyPath(s[0], s[1], &buf))
			if st != StatusOK {
				return st
			}
			return vm.copyOut(v, u32(s[2]), u32(s[3]))
		}),
		env("proxy_set_property", 4, func(vm *VM, c *contextState, s []uint64) Status {
			return vm.setProperty(c, vm.str(s[0], s[1]), vm.bytes(s[2], s[3]))
		}),
		env("proxy_call_foreign_function", 6, func(vm *VM, c *contextState, s []uint64) Status {
			name := vm.str(s[0], s[1])
			f, ok := foreignFunctions[name]
			if !ok || name == "clear_route_cache" && vm.cfg.Compat.NoClearRouteCache {
				return StatusNotFound
			}
			out, st := f(vm, c, vm.bytes(s[2], s[3]))
			if st != StatusOK {
				return st
			}
			return vm.copyOut(out, u32(s[4]), u32(s[5]))
		}),
	}
	fns = append(fns,
		hostFn{name: "pthread_equal", params: types(2), results: types(1),
			fn: func(_ context.Context, _ api.Module, s []uint64) {
				if u32(s[0]) == u32(s[1]) {
					s[0] = 1
				} else {
					s[0] = 0
				}
			}},
		hostFn{name: "emscripten_notify_memory_growth", params: types(1),
			fn: restricted("env.emscripten_notify_memory_growth", func(context.Context, api.Module, []uint64) {})},
	)
	envFunctions["pthread_equal"] = true
	envFunctions["emscripten_notify_memory_growth"] = true
	envFunctions["proxy_increment_metric"] = true
	envFunctions["proxy_record_metric"] = true
	return fns
}

func (vm *VM) grpcUnsupported() Status {
	vm.p.log(vm, nil, LogWarn, "harness: gRPC calls are not emulated (returns UNIMPLEMENTED)")
	return StatusUnimplemented
}

// copyFrom is Envoy's Buffer::copyFrom for set_buffer_bytes.
func copyFrom(b *Buffer, start, length int, data []byte, legacy bool) Status {
	size := len(b.Data)
	switch {
	case start == 0 && length == 0:
		b.Data = append(append([]byte(nil), data...), b.Data...)
	case start == 0 && !legacy:
		if length > size {
			length = size
		}
		b.Data = append(append([]byte(nil), data...), b.Data[length:]...)
	case start == 0 && legacy:
		if length < size {
			return StatusBadArgument
		}
		b.Data = append([]byte(nil), data...)
	case start >= size:
		b.Data = append(b.Data, data...)
	default:
		return StatusBadArgument
	}
	return StatusOK
}

// mutateMap is the shared body of the header-map mutators: the map must be
// one Envoy lets a filter change at this point, and a change is recorded so
// the route is re-selected (request headers) as Envoy does.
func mutateMap(change func(h *Headers, vm *VM, s []uint64)) func(vm *VM, c *contextState, s []uint64) Status {
	return func(vm *VM, c *contextState, s []uint64) Status {
		t := MapType(u32(s[0]))
		h := vm.mapFor(c, t, true)
		if t > MapHTTPCallResponseTrailers || h == nil {
			return StatusBadArgument
		}
		change(h, vm, s)
		mutated(vm, c, t)
		return StatusOK
	}
}

// trailers returns a direction's trailers (i: 0 request, 1 response). Where
// the stream has none, a write in the last body callback adds them, as
// Envoy's addDecodedTrailers/addEncodedTrailers do; later reads see those.
func (s *HTTPContext) trailers(i int, have *Headers, lastBody, write bool) *Headers {
	if have != nil {
		return have
	}
	if write && lastBody && s.addedTrailers[i] == nil {
		s.addedTrailers[i] = &Headers{}
	}
	return s.addedTrailers[i]
}
