package proxywasm

// A tiny wasm binary writer for acceptance tests: modules the Go toolchain
// cannot produce (no ABI marker, odd imports, host calls in _initialize).

type wimport struct {
	mod, name       string
	params, results []byte
}

type wfunc struct {
	export          string
	params, results []byte
	body            []byte
}

const (
	tI32 = 0x7f
	tI64 = 0x7e
)

func uleb(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func sleb(v int64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func wstr(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func section(id byte, items [][]byte) []byte {
	var body []byte
	body = append(body, uleb(uint64(len(items)))...)
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func functype(params, results []byte) []byte {
	b := []byte{0x60}
	b = append(b, uleb(uint64(len(params)))...)
	b = append(b, params...)
	b = append(b, uleb(uint64(len(results)))...)
	return append(b, results...)
}

// buildWasm writes a module with one memory (exported as "memory").
// Imports get function indexes 0..len(imports)-1.
func buildWasm(imports []wimport, funcs []wfunc) []byte {
	var typesec, impsec, funcsec, expsec, codesec [][]byte
	for _, im := range imports {
		impsec = append(impsec, append(append(append(wstr(im.mod), wstr(im.name)...), 0x00), uleb(uint64(len(typesec)))...))
		typesec = append(typesec, functype(im.params, im.results))
	}
	for i, f := range funcs {
		funcsec = append(funcsec, uleb(uint64(len(typesec))))
		typesec = append(typesec, functype(f.params, f.results))
		if f.export != "" {
			expsec = append(expsec, append(append(wstr(f.export), 0x00), uleb(uint64(len(imports)+i))...))
		}
		body := append([]byte{0x00}, f.body...) // no locals
		body = append(body, 0x0b)
		codesec = append(codesec, append(uleb(uint64(len(body))), body...))
	}
	expsec = append(expsec, append(wstr("memory"), 0x02, 0x00))
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, typesec)...)
	if len(impsec) > 0 {
		out = append(out, section(2, impsec)...)
	}
	out = append(out, section(3, funcsec)...)
	out = append(out, section(5, [][]byte{{0x00, 0x01}})...)
	out = append(out, section(7, expsec)...)
	out = append(out, section(10, codesec)...)
	return out
}

// Instructions.
func i32c(v int32) []byte { return append([]byte{0x41}, sleb(int64(v))...) }
func i64c(v int64) []byte { return append([]byte{0x42}, sleb(v)...) }
func call(idx int) []byte { return append([]byte{0x10}, uleb(uint64(idx))...) }
func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

var (
	opDrop        = []byte{0x1a}
	opI32Ne       = []byte{0x47}
	opI32Eqz      = []byte{0x45}
	opUnreachable = []byte{0x00}
	// trapIfNe traps unless the i32 on the stack equals v.
	trapIfNe = func(v int32) []byte {
		return cat(i32c(v), opI32Ne, []byte{0x04, 0x40}, opUnreachable, []byte{0x0b})
	}
)

// proxyModule is the minimum a host accepts: marker, allocator, _initialize.
func proxyModule(marker string, imports []wimport, initBody []byte, extra ...wfunc) []byte {
	funcs := []wfunc{
		{export: marker},
		{export: "proxy_on_memory_allocate", params: []byte{tI32}, results: []byte{tI32}, body: i32c(1024)},
		{export: "_initialize", body: initBody},
	}
	return buildWasm(imports, append(funcs, extra...))
}
