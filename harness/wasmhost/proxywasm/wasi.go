package proxywasm

import (
	"context"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// wasi427 is the WASI set cpp-host registers since #427 (Envoy 1.33–1.37).
var wasi427 = map[string]bool{
	"fd_write": true, "fd_read": true, "fd_seek": true, "fd_close": true, "fd_fdstat_get": true,
	"fd_fdstat_set_flags": true, "environ_get": true, "environ_sizes_get": true, "args_get": true,
	"args_sizes_get": true, "clock_time_get": true, "random_get": true, "sched_yield": true,
	"poll_oneoff": true, "proc_exit": true, "path_open": true, "fd_prestat_get": true, "fd_prestat_dir_name": true,
}

// wasi533 is what #533 adds; all are no-op stubs in cpp-host.
var wasi533 = map[string]bool{
	"clock_res_get": true, "fd_advise": true, "fd_allocate": true, "fd_datasync": true, "fd_fdstat_set_rights": true,
	"fd_filestat_get": true, "fd_filestat_set_size": true, "fd_filestat_set_times": true, "fd_pread": true,
	"fd_pwrite": true, "fd_readdir": true, "fd_renumber": true, "fd_sync": true, "fd_tell": true,
	"path_create_directory": true, "path_filestat_get": true, "path_filestat_set_times": true, "path_link": true,
	"path_readlink": true, "path_remove_directory": true, "path_rename": true, "path_symlink": true,
	"path_unlink_file": true, "sock_accept": true, "sock_recv": true, "sock_send": true, "sock_shutdown": true,
}

const maxRandom = 64 << 10

func wasi(name string, params []api.ValueType, body func(vm *VM, m api.Memory, s []uint64) uint32) hostFn {
	return hostFn{name: name, params: params, results: types(1),
		fn: restricted("wasi."+name, func(ctx context.Context, m api.Module, s []uint64) {
			s[0] = uint64(body(vmFrom(ctx), m.Memory(), s))
		})}
}

func errnoOf(ok bool) uint32 {
	if ok {
		return errnoSuccess
	}
	return errnoFault
}

// Envoy-like WASI shims (cpp-host exports.cc), not wazero's real WASI:
// stdout/stderr go to the log, nothing sleeps, there is no file system.
func wasiFns() []hostFn {
	p := types
	fns := []hostFn{
		wasi("fd_write", p(4), func(vm *VM, m api.Memory, s []uint64) uint32 {
			fd, iovs, n, written := u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])
			if fd != 1 && fd != 2 {
				return errnoBadf
			}
			var b strings.Builder
			for i := uint32(0); i < n; i++ {
				ptr, ok1 := m.ReadUint32Le(iovs + 8*i)
				ln, ok2 := m.ReadUint32Le(iovs + 8*i + 4)
				data, ok3 := m.Read(ptr, ln)
				if !ok1 || !ok2 || !ok3 {
					return errnoFault
				}
				b.Write(data)
			}
			msg := b.String()
			total := len(msg)
			msg = strings.TrimSuffix(msg, "\n")
			level := LogInfo
			if fd == 2 {
				level = LogError
			}
			var root *Root
			if c := vm.effectiveContext(); c != nil {
				root = c.root
			}
			vm.p.log(vm, root, level, msg)
			return errnoOf(m.WriteUint32Le(written, uint32(total)))
		}),
		wasi("fd_read", p(4), func(*VM, api.Memory, []uint64) uint32 { return errnoNosys }),
		wasi("fd_seek", []api.ValueType{i32, i64, i32, i32}, func(vm *VM, _ api.Memory, _ []uint64) uint32 {
			vm.p.log(vm, nil, LogError, "wasi_unstable fd_seek")
			return errnoSuccess
		}),
		wasi("fd_close", p(1), func(vm *VM, _ api.Memory, _ []uint64) uint32 {
			vm.p.log(vm, nil, LogError, "wasi_unstable fd_close")
			return errnoSuccess
		}),
		wasi("fd_fdstat_get", p(2), func(_ *VM, m api.Memory, s []uint64) uint32 {
			fd := u32(s[0])
			if fd != 1 && fd != 2 {
				return errnoBadf
			}
			var st [24]byte
			st[0] = 2  // filetype: character device
			st[8] = 64 // rights_base: FD_WRITE
			return errnoOf(m.Write(u32(s[1]), st[:]))
		}),
		wasi("fd_fdstat_set_flags", p(2), func(*VM, api.Memory, []uint64) uint32 { return errnoNosys }),
		wasi("fd_prestat_get", p(2), func(*VM, api.Memory, []uint64) uint32 { return errnoBadf }),
		wasi("fd_prestat_dir_name", p(3), func(*VM, api.Memory, []uint64) uint32 { return errnoNosys }),
		wasi("path_open", []api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32},
			func(*VM, api.Memory, []uint64) uint32 { return errnoNoent }),
		wasi("args_sizes_get", p(2), func(_ *VM, m api.Memory, s []uint64) uint32 {
			return errnoOf(m.WriteUint32Le(u32(s[0]), 0) && m.WriteUint32Le(u32(s[1]), 0))
		}),
		wasi("args_get", p(2), func(*VM, api.Memory, []uint64) uint32 { return errnoSuccess }),
		wasi("environ_sizes_get", p(2), func(vm *VM, m api.Memory, s []uint64) uint32 {
			size := 0
			for _, e := range vm.cfg.Env {
				size += len(e[0]) + len(e[1]) + 2
			}
			return errnoOf(m.WriteUint32Le(u32(s[0]), uint32(len(vm.cfg.Env))) && m.WriteUint32Le(u32(s[1]), uint32(size)))
		}),
		wasi("environ_get", p(2), func(vm *VM, m api.Memory, s []uint64) uint32 {
			ptrs, buf := u32(s[0]), u32(s[1])
			for i, e := range vm.cfg.Env {
				kv := e[0] + "=" + e[1] + "\x00"
				if !m.WriteUint32Le(ptrs+4*uint32(i), buf) || !m.WriteString(buf, kv) {
					return errnoFault
				}
				buf += uint32(len(kv))
			}
			return errnoSuccess
		}),
		wasi("clock_time_get", []api.ValueType{i32, i64, i32}, func(vm *VM, m api.Memory, s []uint64) uint32 {
			var t uint64
			switch u32(s[0]) {
			case 0: // realtime
				t = uint64(vm.p.Clock.Now().UnixNano())
			case 1: // monotonic
				t = uint64(vm.p.Clock.Since()) + 1e9
			default:
				return errnoNotsup
			}
			return errnoOf(m.WriteUint64Le(u32(s[2]), t))
		}),
		wasi("random_get", p(2), func(vm *VM, m api.Memory, s []uint64) uint32 {
			n := u32(s[1])
			if n > maxRandom {
				return errnoInval
			}
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(vm.rng.Uint32())
			}
			return errnoOf(m.Write(u32(s[0]), b))
		}),
		wasi("sched_yield", nil, func(*VM, api.Memory, []uint64) uint32 { return errnoSuccess }),
		wasi("poll_oneoff", p(4), func(vm *VM, m api.Memory, s []uint64) uint32 {
			if !vm.cfg.Compat.WASI533 {
				return errnoNosys
			}
			return errnoOf(m.WriteUint32Le(u32(s[3]), 0))
		}),
		{name: "proc_exit", params: p(1), fn: restricted("wasi.proc_exit", func(ctx context.Context, _ api.Module, _ []uint64) {
			vm := vmFrom(ctx)
			vm.p.log(vm, nil, LogError, "wasi_unstable proc_exit")
		})},
		wasi("clock_res_get", p(2), func(_ *VM, m api.Memory, s []uint64) uint32 {
			return errnoOf(m.WriteUint64Le(u32(s[1]), 1))
		}),
	}
	// The rest of #533's set: stubs, like cpp-host's.
	sigs := map[string][]api.ValueType{
		"fd_advise": {i32, i64, i64, i32}, "fd_allocate": {i32, i64, i64}, "fd_datasync": p(1),
		"fd_fdstat_set_rights": {i32, i64, i64}, "fd_filestat_get": p(2), "fd_filestat_set_size": {i32, i64},
		"fd_filestat_set_times": {i32, i64, i64, i32}, "fd_pread": {i32, i32, i32, i64, i32},
		"fd_pwrite": {i32, i32, i32, i64, i32}, "fd_readdir": {i32, i32, i32, i64, i32}, "fd_renumber": p(2),
		"fd_sync": p(1), "fd_tell": p(2), "path_create_directory": p(3), "path_filestat_get": p(5),
		"path_filestat_set_times": {i32, i32, i32, i32, i64, i64, i32}, "path_link": p(7), "path_readlink": p(6),
		"path_remove_directory": p(3), "path_rename": p(6), "path_symlink": p(5), "path_unlink_file": p(3),
		"sock_accept": p(3), "sock_recv": p(6), "sock_send": p(5), "sock_shutdown": p(2),
	}
	for name, params := range sigs {
		fns = append(fns, wasi(name, params, func(*VM, api.Memory, []uint64) uint32 { return errnoNosys }))
	}
	return fns
}

func registerWASI(ctx context.Context, rt wazero.Runtime, module string) error {
	return register(ctx, rt, module, wasiFns())
}
