package config

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueload "cuelang.org/go/cue/load"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pluginConfigSchema loads #PluginConfig from the schema module on disk, the
// same files `cue vet` and the detour binary use.
func pluginConfigSchema(t *testing.T) cue.Value {
	t.Helper()
	insts := cueload.Instances([]string{"./detour"}, &cueload.Config{Dir: "../../schemas"})
	require.NoError(t, insts[0].Err)
	pkg := cuecontext.New().BuildInstance(insts[0])
	require.NoError(t, pkg.Err())
	def := pkg.LookupPath(cue.ParsePath("#PluginConfig"))
	require.NoError(t, def.Err())
	return def
}

// field is one field of either definition: its path and whether it may be absent.
type field struct {
	path     string
	optional bool
}

func goFields(t reflect.Type, prefix string, out *[]field) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		p := prefix + name
		*out = append(*out, field{p, strings.Contains(opts, "omitempty")})
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
			p += "[]"
		}
		if ft.Kind() == reflect.Struct {
			goFields(ft, p+".", out)
		}
	}
}

func cueFields(t *testing.T, v cue.Value, prefix string, out *[]field) {
	it, err := v.Fields(cue.Optional(true))
	require.NoError(t, err)
	for it.Next() {
		p := prefix + it.Selector().Unquoted()
		*out = append(*out, field{p, it.IsOptional()})
		fv := it.Value()
		if fv.IncompleteKind() == cue.ListKind {
			fv = fv.LookupPath(cue.MakePath(cue.AnyIndex))
			p += "[]"
		}
		if fv.IncompleteKind() == cue.StructKind {
			cueFields(t, fv, p+".", out)
		}
	}
}

// TestCUEMirrorsGo keeps schemas/detour/plugin_config.cue and Config equal:
// the same fields, nested the same way, optional exactly where Go omits empty.
func TestCUEMirrorsGo(t *testing.T) {
	var fromGo, fromCUE []field
	goFields(reflect.TypeFor[Config](), "", &fromGo)
	cueFields(t, pluginConfigSchema(t), "", &fromCUE)
	byPath := func(fs []field) func(i, j int) bool { return func(i, j int) bool { return fs[i].path < fs[j].path } }
	sort.Slice(fromGo, byPath(fromGo))
	sort.Slice(fromCUE, byPath(fromCUE))
	assert.Equal(t, fromGo, fromCUE)
}

// TestCUEAcceptsWhatGoAccepts: a valid configuration passes the CUE
// definition; the ones Go rejects for a field's value fail it too.
func TestCUEAcceptsWhatGoAccepts(t *testing.T) {
	def := pluginConfigSchema(t)
	check := func(c Config) error {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		v := def.Context().CompileBytes(b)
		require.NoError(t, v.Err())
		return def.Unify(v).Validate(cue.Concrete(true))
	}
	require.NoError(t, check(valid()))
	edge := valid()
	edge.Local, edge.Service.Authorities = "", []string{"shop.example.com"}
	require.NoError(t, check(edge))
	slow := valid()
	slow.Detection.Latency = &Latency{P99Ms: 300, WindowMs: 10000, MinRequests: 20, CrossRegionMs: 40}
	require.NoError(t, check(slow))
	require.NoError(t, slow.Validate())
	for name, mutate := range map[string]func(*Config){
		"version":  func(c *Config) { c.Version = "v2" },
		"mode":     func(c *Config) { c.Mode = "random" },
		"port":     func(c *Config) { c.Service.Port = 0 },
		"weight":   func(c *Config) { c.Targets[0].Weight = 101 },
		"header":   func(c *Config) { c.Headers.Cluster = "X Bad" },
		"targets":  func(c *Config) { c.Targets = []Target{} },
		"ejection": func(c *Config) { c.Detection.MaxEjectionPercent = 150 },
		"latency budget": func(c *Config) {
			c.Detection.Latency = &Latency{P99Ms: 0, WindowMs: 10000, MinRequests: 20}
		},
		"latency window": func(c *Config) {
			c.Detection.Latency = &Latency{P99Ms: 300, WindowMs: 299, MinRequests: 20}
		},
		"latency volume": func(c *Config) {
			c.Detection.Latency = &Latency{P99Ms: 300, WindowMs: 10000, MinRequests: 0}
		},
	} {
		c := valid()
		mutate(&c)
		assert.Error(t, check(c), name)
		assert.Error(t, c.Validate(), name)
	}
}
