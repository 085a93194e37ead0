package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"
	"cuelang.org/go/encoding/yaml"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"istio.io/api/networking/v1alpha3"

	"github.com/detour-mesh/detour/compiler/intent"
	"github.com/detour-mesh/detour/plugins/config"
)

// MaxComposeBytes bounds a VirtualService file named by spec.compose: it
// holds a team's routes for one service, never a bulk export.
const MaxComposeBytes = 256 << 10

// compose reads the team's VirtualService that spec.compose names, checks
// it against the intent and stores its routes in the intent. Problems in
// the file are positioned in the file; a path that cannot be read is
// reported at spec.compose.virtualService. The caller holds e.mu.
func (e *engine) compose(in *intent.Intent, doc document) Errors {
	c := in.Spec.Compose
	if c == nil {
		return nil
	}
	const at = "spec.compose.virtualService"
	dir := filepath.Dir(doc.file)
	data, err := readInside(dir, c.VirtualService)
	if err != nil {
		return Errors{doc.errorAt(at, err.Error())}
	}
	name := filepath.Join(dir, filepath.FromSlash(c.VirtualService))
	cp := composer{eng: e, file: name, in: in}
	routes := cp.parse(e.ctx, data)
	if len(cp.errs) > 0 {
		return cp.errs
	}
	c.Routes = routes
	return nil
}

// readInside reads rel below dir, refusing a path (or a symbolic link)
// that leads out of dir, anything but a regular file, and a file larger
// than MaxComposeBytes.
func readInside(dir, rel string) ([]byte, error) {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return nil, fmt.Errorf("%q is not inside the intent's directory", rel)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open the intent's directory: %v", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no file %q in the intent's directory", rel)
	case err != nil && strings.Contains(err.Error(), "escapes"):
		return nil, fmt.Errorf("%q leads out of the intent's directory (a symbolic link); the file must be inside it", rel)
	case err != nil:
		return nil, fmt.Errorf("cannot read %q: %v", rel, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %v", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file", rel)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxComposeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %v", rel, err)
	}
	if len(data) > MaxComposeBytes {
		return nil, fmt.Errorf("%q is larger than %d KiB; a composed VirtualService holds one service's routes", rel, MaxComposeBytes>>10)
	}
	return data, nil
}

const emptyVS = "empty file; expected a VirtualService"

// composer checks one team VirtualService file.
type composer struct {
	eng  *engine
	file string
	in   *intent.Intent
	ix   posIndex
	errs Errors
}

func (c *composer) errorAt(path, msg string) {
	pos, _ := c.ix.lookup(path)
	c.errs = append(c.errs, newError(c.file, pos, path, msg))
}

func (c *composer) keyError(path, msg string) {
	pos, ok := c.ix.key(path)
	if !ok {
		pos, _ = c.ix.lookup(path)
	}
	c.errs = append(c.errs, newError(c.file, pos, path, msg))
}

// parse decodes the file strictly (one YAML or JSON document, no unknown
// or unsupported field) and checks its routes against the intent.
func (c *composer) parse(ctx *cue.Context, data []byte) []*v1alpha3.HTTPRoute {
	dec := yaml.NewDecoder(c.file, bytes.NewReader(data))
	expr, err := dec.Extract()
	if err == io.EOF {
		c.errs = append(c.errs, &Error{File: c.file, Line: 1, Column: 1, Msg: emptyVS})
		return nil
	}
	if err != nil {
		for _, e := range c.eng.fromCUEError(err, []string{c.file}, nil, "") {
			if line, col, ok := syntaxPosition(data, e.Line); ok && strings.HasPrefix(e.Msg, "invalid YAML: ") {
				e.Line, e.Column = line, col
			}
			c.errs = append(c.errs, e)
		}
		return nil
	}
	if next, err := dec.Extract(); err != io.EOF {
		pos := token.NoPos
		if err == nil {
			pos = next.Pos()
		}
		c.errs = append(c.errs, newError(c.file, pos, "", "a second document; the file holds one VirtualService"))
		return nil
	}
	if dups := duplicateKeys(c.file, "", expr); len(dups) > 0 {
		c.errs = dups
		return nil
	}
	c.ix = posIndex{}
	c.ix.set("", expr.Pos())
	c.ix.indexExpr("", expr)
	v := ctx.BuildExpr(expr, cue.Filename(c.file))
	if err := v.Err(); err != nil {
		c.errs = c.eng.fromCUEError(err, []string{c.file}, c.ix, "")
		return nil
	}
	if v.Kind() != cue.StructKind {
		msg := "expected a VirtualService object (apiVersion, kind, metadata, spec)"
		if v.Null() == nil || !v.IsConcrete() {
			msg = emptyVS // only comments, or null
		}
		c.errorAt("", msg)
		return nil
	}
	c.header(v)
	spec := v.LookupPath(cue.ParsePath("spec"))
	if !spec.Exists() {
		c.errorAt("spec", requiredMsg)
		return nil
	}
	c.walk(spec, (&v1alpha3.VirtualService{}).ProtoReflect().Descriptor(), "spec")
	if len(c.errs) > 0 {
		return nil
	}
	js, err := spec.MarshalJSON()
	if err != nil {
		c.errorAt("spec", err.Error())
		return nil
	}
	var vs v1alpha3.VirtualService
	if err := protojson.Unmarshal(js, &vs); err != nil {
		// walk checks what protojson does; this is a backstop.
		c.errorAt("spec", "not a valid VirtualService: "+err.Error())
		return nil
	}
	c.check(&vs)
	if len(c.errs) > 0 {
		return nil
	}
	return vs.Http
}

// header checks apiVersion, kind and metadata.
func (c *composer) header(v cue.Value) {
	it, _ := v.Fields()
	for it.Next() {
		k := it.Selector().Unquoted()
		f := it.Value()
		s, _ := f.String()
		switch k {
		case "apiVersion":
			if s != "networking.istio.io/v1" && s != "networking.istio.io/v1beta1" && s != "networking.istio.io/v1alpha3" {
				c.errorAt(k, `must be "networking.istio.io/v1" (or v1beta1, v1alpha3)`)
			}
		case "kind":
			if s != "VirtualService" {
				c.errorAt(k, `must be "VirtualService"`)
			}
		case "metadata":
			if ns := f.LookupPath(cue.ParsePath("namespace")); ns.Exists() {
				if s, _ := ns.String(); s != c.in.Metadata.Namespace {
					c.errorAt("metadata.namespace", fmt.Sprintf("must be the intent's namespace %q (or left out)", c.in.Metadata.Namespace))
				}
			}
		case "spec":
		default:
			c.keyError(joinPath("", k), "unknown field; expected one of apiVersion, kind, metadata, spec")
		}
	}
	for _, k := range []string{"apiVersion", "kind"} {
		if !v.LookupPath(cue.ParsePath(k)).Exists() {
			c.errorAt(k, requiredMsg)
		}
	}
}

// refused are the fields a composed VirtualService may not set, with why.
// Everything else of the messages below is allowed: a route matches what it
// likes and splits traffic over the service's subsets.
var refused = map[protoreflect.FullName]map[string]string{
	"istio.networking.v1alpha3.VirtualService": {
		"gateways": "Detour binds the compiled VirtualService (the mesh, or spec.entry.edge's gateway); leave it out",
		"tcp":      "only HTTP routes are composed",
		"tls":      "only HTTP routes are composed",
		"exportTo": "the compiled VirtualService's visibility is Detour's; leave it out",
	},
	"istio.networking.v1alpha3.HTTPRoute": {
		"retries":          "Detour sets every route's retries from spec.retries (the failover retry policy); leave it out",
		"timeout":          "Detour sets every route's timeout from spec.retries.timeout; leave it out",
		"delegate":         "a composed route routes to the service itself",
		"redirect":         "a composed route routes to the service itself",
		"directResponse":   "a composed route routes to the service itself",
		"fault":            "not supported in a composed route: injected aborts would count towards outlier ejection",
		"mirror":           "not supported in a composed route",
		"mirrors":          "not supported in a composed route",
		"mirrorPercent":    "not supported in a composed route",
		"mirrorPercentage": "not supported in a composed route",
	},
	"istio.networking.v1alpha3.HTTPMatchRequest": {
		"method":   "Detour splits each route by method (only spec.retries.methods are retried); a composed route cannot match on it",
		"gateways": "Detour binds the compiled VirtualService; leave it out",
	},
	"istio.networking.v1alpha3.HTTPRouteDestination": {},
	"istio.networking.v1alpha3.Destination":          {},
}

// walk checks v against the message md: every field known (by its JSON
// name), not refused, of the right kind; lists and maps of messages
// element by element. Scalars inside are left to protojson.
func (c *composer) walk(v cue.Value, md protoreflect.MessageDescriptor, path string) {
	if v.Kind() != cue.StructKind {
		c.errorAt(path, "must be an object")
		return
	}
	it, _ := v.Fields()
	for it.Next() {
		k := it.Selector().Unquoted()
		p := joinPath(path, k)
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			c.keyError(p, "unknown field; expected one of "+strings.Join(fieldNames(md), ", "))
			continue
		}
		if why, ok := refused[md.FullName()][k]; ok {
			c.keyError(p, why)
			continue
		}
		c.walkField(it.Value(), fd, p)
	}
}

func (c *composer) walkField(v cue.Value, fd protoreflect.FieldDescriptor, path string) {
	switch {
	case fd.IsList():
		if v.Kind() != cue.ListKind {
			c.errorAt(path, "must be a list")
			return
		}
		li, _ := v.List()
		for i := 0; li.Next(); i++ {
			c.walkScalar(li.Value(), fd, path+"["+strconv.Itoa(i)+"]")
		}
	case fd.IsMap():
		if v.Kind() != cue.StructKind {
			c.errorAt(path, "must be an object")
			return
		}
		mi, _ := v.Fields()
		for mi.Next() {
			c.walkScalar(mi.Value(), fd.MapValue(), joinPath(path, mi.Selector().Unquoted()))
		}
	default:
		c.walkScalar(v, fd, path)
	}
}

// walkScalar checks one value of the field's element type.
func (c *composer) walkScalar(v cue.Value, fd protoreflect.FieldDescriptor, path string) {
	var want cue.Kind
	var msg string
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
			return // durations and wrappers: strings and numbers in JSON
		}
		c.walk(v, md, path)
		return
	case protoreflect.StringKind, protoreflect.EnumKind, protoreflect.BytesKind:
		want, msg = cue.StringKind, "must be a string"
	case protoreflect.BoolKind:
		want, msg = cue.BoolKind, "must be true or false"
	default:
		want, msg = cue.NumberKind, "must be a number"
	}
	if v.Kind()&want == 0 {
		c.errorAt(path, msg)
	}
}

// fieldNames are md's JSON field names, minus the refused ones.
func fieldNames(md protoreflect.MessageDescriptor) []string {
	var out []string
	for i := range md.Fields().Len() {
		n := md.Fields().Get(i).JSONName()
		if _, no := refused[md.FullName()][n]; !no {
			out = append(out, n)
		}
	}
	return out
}

// reservedRoute says whether a route name is one Detour's own routes use,
// or one the retried copy of a route gets.
func reservedRoute(name string) bool {
	return name == "default" || strings.HasPrefix(name, "default-") || strings.HasPrefix(name, "cluster-") ||
		strings.HasSuffix(name, "-retry")
}

// check holds the routes against the intent: hosts and destinations are
// the service, subsets are the intent's, no match on Detour's headers.
// Destination hosts are rewritten to the service's FQDN.
func (c *composer) check(vs *v1alpha3.VirtualService) {
	svc := c.in.Spec.Service
	host := svc.Host
	if host == "" {
		host = c.in.Metadata.Name
	}
	domain := svc.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	ns := c.in.Metadata.Namespace
	fqdn := host + "." + ns + ".svc." + domain
	names := []string{host, host + "." + ns, host + "." + ns + ".svc", fqdn}
	isService := func(h string) bool { return slices.Contains(names, h) }
	want := fmt.Sprintf("must be the intent's service (%s or %s)", host, fqdn)
	if len(vs.Hosts) == 0 {
		c.errorAt("spec.hosts", "must name the intent's service ("+fqdn+")")
	}
	for i, h := range vs.Hosts {
		if !isService(h) {
			c.errorAt(fmt.Sprintf("spec.hosts[%d]", i), fmt.Sprintf("%q: %s; one VirtualService composes one service", h, want))
		}
	}
	if len(vs.Http) == 0 {
		c.errorAt("spec.http", "must list at least one route to compose")
	}
	var subsets []string
	for _, s := range c.in.Spec.Subsets {
		subsets = append(subsets, s.Name)
	}
	seen := map[string]int{}
	for i, r := range vs.Http {
		rp := fmt.Sprintf("spec.http[%d]", i)
		// Unnamed routes are named team-<i> when compiled.
		name := (&intent.Compose{Routes: vs.Http}).RouteName(i)
		switch j, dup := seen[name]; {
		case r.Name != "" && reservedRoute(r.Name):
			c.errorAt(rp+".name", fmt.Sprintf("%q is a name Detour's own routes use (default, cluster-*, *-retry); choose another", r.Name))
		case dup && r.Name == "":
			c.errorAt(rp, fmt.Sprintf("an unnamed route is compiled as %q, the name of spec.http[%d]; name it", name, j))
		case dup:
			c.errorAt(rp+".name", fmt.Sprintf("duplicate route name %q (also spec.http[%d])", name, j))
		}
		seen[name] = i
		if len(r.Match) == 0 && i < len(vs.Http)-1 {
			c.errorAt(rp, "has no match, so the routes after it would never be reached; put it last")
		}
		for j, m := range r.Match {
			for field, hs := range map[string]map[string]*v1alpha3.StringMatch{"headers": m.Headers, "withoutHeaders": m.WithoutHeaders} {
				for k := range hs {
					if k == config.HeaderCluster || k == config.HeaderCell {
						c.errorAt(joinPath(fmt.Sprintf("%s.match[%d].%s", rp, j, field), k),
							"is a Detour control header: the router filter strips it from clients and sets it; a route cannot match on it")
					}
				}
			}
		}
		if len(r.Route) == 0 {
			c.errorAt(rp+".route", "must list at least one destination (the service, with a subset or none)")
			continue
		}
		var sum int32
		for j, d := range r.Route {
			dp := fmt.Sprintf("%s.route[%d]", rp, j)
			sum += d.Weight
			if d.Destination == nil {
				c.errorAt(dp+".destination", requiredMsg)
				continue
			}
			if !isService(d.Destination.Host) {
				c.errorAt(dp+".destination.host", fmt.Sprintf("%q: %s; Detour composes routes to its own service only", d.Destination.Host, want))
			}
			d.Destination.Host = fqdn
			if s := d.Destination.Subset; s != "" && !slices.Contains(subsets, s) {
				msg := fmt.Sprintf("unknown subset %q; spec.subsets defines ", s)
				if len(subsets) == 0 {
					msg += "none"
				} else {
					msg += strings.Join(subsets, ", ")
				}
				c.errorAt(dp+".destination.subset", msg)
			}
			if p := d.Destination.Port; p != nil && p.Number != 0 && p.Number != svc.Port {
				c.errorAt(dp+".destination.port.number", fmt.Sprintf("must be the service's port %d (or left out)", svc.Port))
			}
		}
		if len(r.Route) > 1 && sum != 100 {
			c.errorAt(rp+".route", fmt.Sprintf("the weights sum to %d; a split over several destinations needs exactly 100", sum))
		}
	}
}
