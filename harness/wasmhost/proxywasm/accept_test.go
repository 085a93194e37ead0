package proxywasm

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	wasiRandom = wimport{"wasi_snapshot_preview1", "random_get", []byte{tI32, tI32}, []byte{tI32}}
	wasiPoll   = wimport{"wasi_snapshot_preview1", "poll_oneoff", []byte{tI32, tI32, tI32, tI32}, []byte{tI32}}
	wasiExit   = wimport{"wasi_snapshot_preview1", "proc_exit", []byte{tI32}, nil}
	wasiClock  = wimport{"wasi_snapshot_preview1", "clock_time_get", []byte{tI32, tI64, tI32}, []byte{tI32}}
	envTick    = wimport{"env", "proxy_set_tick_period_milliseconds", []byte{tI32}, []byte{tI32}}
	envLog     = wimport{"env", "proxy_log", []byte{tI32, tI32, tI32}, []byte{tI32}}
)

func testEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), EngineConfig{Interpreter: true})
	require.NoError(t, err)
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func TestModuleAcceptance(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		compat  Compat
		wantErr string
	}{
		{"minimal 0_2_0 module", proxyModule(ABI020, nil, nil), Compat{}, ""},
		{"0_2_1 marker", proxyModule(ABI021, nil, nil), Compat{}, ""},
		{"no ABI marker", buildWasm(nil, []wfunc{{export: "proxy_on_memory_allocate", params: []byte{tI32}, results: []byte{tI32}, body: i32c(0)}}),
			Compat{}, "missing or unknown Proxy-Wasm ABI version"},
		{"0_1_0 is not supported", proxyModule(ABI010, nil, nil), Compat{}, "ABI proxy_abi_version_0_1_0 is not supported"},
		{"no allocator", buildWasm(nil, []wfunc{{export: ABI020}}), Compat{}, "neither proxy_on_memory_allocate nor malloc"},
		{"get_log_level needs 0_2_1", proxyModule(ABI020, []wimport{{"env", "proxy_get_log_level", []byte{tI32}, []byte{tI32}}}, nil),
			Compat{}, "env.proxy_get_log_level"},
		{"get_log_level with 0_2_1", proxyModule(ABI021, []wimport{{"env", "proxy_get_log_level", []byte{tI32}, []byte{tI32}}}, nil), Compat{}, ""},
		{"WASI beyond Envoy 1.33's set", proxyModule(ABI020, []wimport{{"wasi_snapshot_preview1", "fd_filestat_get", []byte{tI32, tI32}, []byte{tI32}}}, nil),
			Compat{}, "wasi_snapshot_preview1.fd_filestat_get"},
		{"same import with #533", proxyModule(ABI020, []wimport{{"wasi_snapshot_preview1", "fd_filestat_get", []byte{tI32, tI32}, []byte{tI32}}}, nil),
			Compat{WASI533: true}, ""},
		{"unknown import module", proxyModule(ABI020, []wimport{{"foo", "bar", nil, nil}}, nil), Compat{}, "foo.bar"},
		{"host call outside the start allowlist traps", proxyModule(ABI020, []wimport{envTick}, cat(i32c(10), call(0), opDrop)),
			Compat{}, "restricted_callback: env.proxy_set_tick_period_milliseconds"},
		{"proxy_log is allowed at start", proxyModule(ABI020, []wimport{envLog}, cat(i32c(2), i32c(0), i32c(0), call(0), opDrop)), Compat{}, ""},
		{"poll_oneoff not allowed at start (#427)", proxyModule(ABI020, []wimport{wasiPoll}, cat(i32c(0), i32c(0), i32c(0), i32c(16), call(0), opDrop)),
			Compat{}, "restricted_callback: wasi.poll_oneoff"},
		{"poll_oneoff allowed at start (#533)", proxyModule(ABI020, []wimport{wasiPoll}, cat(i32c(0), i32c(0), i32c(0), i32c(16), call(0), trapIfNe(0))),
			Compat{WASI533: true}, ""},
		{"random_get over 64KiB is EINVAL", proxyModule(ABI020, []wimport{wasiRandom}, cat(i32c(0), i32c(65537), call(0), trapIfNe(errnoInval))), Compat{}, ""},
		{"random_get up to 64KiB works", proxyModule(ABI020, []wimport{wasiRandom}, cat(i32c(0), i32c(65536), call(0), trapIfNe(0))), Compat{}, ""},
		{"proc_exit is not allowed at start", proxyModule(ABI020, []wimport{wasiExit}, cat(i32c(3), call(0))), Compat{}, "restricted_callback: wasi.proc_exit"},
		{"clock 2 is not supported", proxyModule(ABI020, []wimport{wasiClock}, cat(i32c(2), i64c(0), i32c(0), call(0), trapIfNe(errnoNotsup))), Compat{}, ""},
	}
	e := testEngine(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProcess(nil)
			m, err := e.Compile(context.Background(), tc.wasm)
			if err == nil {
				var vm *VM
				vm, err = p.NewVM(context.Background(), e, m, VMConfig{VMID: "t", Compat: tc.compat})
				if err == nil {
					vm.Close()
				}
			}
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestProcExitLogsAndReturns(t *testing.T) {
	e := testEngine(t)
	vmStart := wfunc{export: "proxy_on_vm_start", params: []byte{tI32, tI32}, results: []byte{tI32},
		body: cat(i32c(3), call(0), i32c(1))}
	m, err := e.Compile(context.Background(), proxyModule(ABI020, []wimport{wasiExit}, nil, vmStart))
	require.NoError(t, err)
	p := NewProcess(nil)
	vm, err := p.NewVM(context.Background(), e, m, VMConfig{VMID: "t"})
	require.NoError(t, err)
	_, err = vm.StartPlugin(PluginConfig{Name: "p"})
	require.NoError(t, err, "proc_exit returns; the module keeps running")
	require.Len(t, p.Logs(), 1)
	assert.Equal(t, "wasi_unstable proc_exit", p.Logs()[0].Message)
	assert.Equal(t, "error", p.Logs()[0].Level)
}

func TestPollOneoffAfterStart(t *testing.T) {
	// on_vm_start returns whether poll_oneoff returned 0.
	vmStart := wfunc{export: "proxy_on_vm_start", params: []byte{tI32, tI32}, results: []byte{tI32},
		body: cat(i32c(0), i32c(0), i32c(0), i32c(16), call(0), opI32Eqz)}
	wasm := proxyModule(ABI020, []wimport{wasiPoll}, nil, vmStart)
	for _, tc := range []struct {
		compat Compat
		ok     bool
	}{{Compat{}, false}, {Compat{WASI533: true}, true}} {
		e := testEngine(t)
		m, err := e.Compile(context.Background(), wasm)
		require.NoError(t, err)
		vm, err := NewProcess(nil).NewVM(context.Background(), e, m, VMConfig{Compat: tc.compat})
		require.NoError(t, err)
		_, err = vm.StartPlugin(PluginConfig{Name: "p"})
		if tc.ok {
			assert.NoError(t, err, "#533: zero events, success")
		} else {
			assert.ErrorContains(t, err, "proxy_on_vm_start returned false", "#427: ENOSYS")
		}
	}
}

func TestCompileIsCachedPerEngine(t *testing.T) {
	e := testEngine(t)
	w := proxyModule(ABI020, nil, nil)
	m1, err := e.Compile(context.Background(), w)
	require.NoError(t, err)
	m2, err := e.Compile(context.Background(), w)
	require.NoError(t, err)
	assert.Same(t, m1, m2)
}

func TestPairsRoundTripAndLimits(t *testing.T) {
	in := [][2]string{{"a", "1"}, {"b", "22"}}
	b := encodePairs(in)
	assert.Equal(t, []byte{2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, '1', 0, 'b', 0, '2', '2', 0}, b)
	assert.Equal(t, in, decodePairs(b))
	assert.Nil(t, encodePairs(nil), "empty map is ptr 0 / size 0")
	assert.Empty(t, decodePairs(b[:len(b)-3]), "malformed parses as empty")
	assert.Empty(t, decodePairs([]byte{0xff, 0xff, 0, 0}), "over 1024 pairs parses as empty")
}

func TestHeadersSemantics(t *testing.T) {
	h := NewHeaders([][2]string{{"X-A", "1"}, {"x-a", "2"}, {"b", "3"}})
	v, ok := h.Get("x-a")
	assert.True(t, ok)
	assert.Equal(t, "1", v)
	h.Set("X-A", "9")
	assert.Equal(t, [][2]string{{"x-a", "9"}, {"b", "3"}}, h.Pairs())
	h.Add("B", "4")
	h.Remove("b")
	assert.Equal(t, [][2]string{{"x-a", "9"}}, h.Pairs())
	assert.Equal(t, 4, h.ByteSize())
}

// Envoy's header map keeps pseudo-headers ahead of regular ones whatever the
// order they are added in, so a filter's serialized map starts with them.
func TestHeadersPseudoFirst(t *testing.T) {
	h := NewHeaders([][2]string{{"content-type", "text/plain"}, {":status", "200"}})
	h.Add("x-b", "1")
	h.Set(":path", "/p")
	h.Add(":authority", "a")
	assert.Equal(t, [][2]string{{":status", "200"}, {":path", "/p"}, {":authority", "a"}, {"content-type", "text/plain"}, {"x-b", "1"}}, h.Pairs())
	h.Set(":status", "503") // replaced in place
	assert.Equal(t, [2]string{":status", "503"}, h.Pairs()[0])
}

func TestCopyFrom(t *testing.T) {
	tests := []struct {
		name          string
		start, length int
		legacy        bool
		want          string
		st            Status
	}{
		{"prepend", 0, 0, false, "xyabc", StatusOK},
		{"append", 3, 0, false, "abcxy", StatusOK},
		{"append past end", 100, 0, false, "abcxy", StatusOK},
		{"replace all", 0, 3, false, "xy", StatusOK},
		{"drain prefix", 0, 1, false, "xybc", StatusOK},
		{"legacy prefix rejected", 0, 1, true, "abc", StatusBadArgument},
		{"legacy replace", 0, 3, true, "xy", StatusOK},
		{"middle rejected", 1, 1, false, "abc", StatusBadArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Buffer{Data: []byte("abc")}
			assert.Equal(t, tc.st, copyFrom(b, tc.start, tc.length, []byte("xy"), tc.legacy))
			assert.Equal(t, tc.want, string(b.Data))
		})
	}
}

func TestPrometheusOutput(t *testing.T) {
	s := newStats()
	s.get("requests_total", MetricCounter).counter = 3
	s.get("bad name!", MetricGauge).gauge = 2
	s.get("9bad", MetricGauge).gauge = 1
	var b strings.Builder
	require.NoError(t, s.WritePrometheus(&b))
	out := b.String()
	assert.Contains(t, out, "# TYPE requests_total counter\nrequests_total{} 3\n")
	assert.Contains(t, out, "bad_name_{} 2\n", "sanitised")
	assert.NotContains(t, out, "9bad", "not a valid Prometheus name: skipped")
	assert.NotContains(t, out, "envoy_", "custom namespace: no envoy_ prefix")
}
