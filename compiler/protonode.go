package compiler

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/detour-mesh/detour/compiler/lower"
)

// errUnsupported makes the caller fall back to the JSON round trip: a
// message shape the direct walk does not reproduce (Any, Timestamp,
// extensions, a custom JSONPB marshaller). None of the compiler's objects
// has one today; the fallback keeps the output right if one appears.
var errUnsupported = errors.New("not rendered directly")

// jsonpbMarshaler is what the JSON marshaller of the API types checks
// first; a message that has it is rendered through JSON.
type jsonpbMarshaler interface {
	MarshalJSONPB(any) ([]byte, error)
}

// protoNode renders a message as the YAML node tree that its CRD JSON (the
// API types' MarshalJSON: camelCase names, enums by name, unset fields
// left out, 64-bit integers quoted) decodes to, without writing and parsing
// the JSON: that round trip was most of a compile's time.
func protoNode(m protoreflect.Message) (*yaml.Node, error) {
	// The Struct of a WasmPlugin's configuration is most of a bundle's
	// values: walk it as Go values, not through map reflection.
	switch x := m.Interface().(type) {
	case *structpb.Struct:
		return structNode(x)
	case *structpb.Value:
		return jsonValueNode(x)
	case *structpb.ListValue:
		return listNode(x)
	}
	md := m.Descriptor()
	fds := md.Fields()
	switch wellKnown(md.FullName()) {
	case "":
	case "BoolValue", "BytesValue", "StringValue", "Int32Value", "UInt32Value",
		"FloatValue", "Int64Value", "UInt64Value", "DoubleValue":
		fd := fds.ByNumber(1)
		return valueNode(fd, m.Get(fd))
	case "Duration":
		return durationNode(m)
	case "Value":
		fd := m.WhichOneof(md.Oneofs().Get(0))
		if fd == nil {
			return nil, errors.New("nil Value")
		}
		return valueNode(fd, m.Get(fd))
	case "Struct", "ListValue":
		fd := fds.ByNumber(1)
		return valueNode(fd, m.Get(fd))
	default: // Any, Timestamp and the rest
		return nil, errUnsupported
	}
	if _, ok := m.Interface().(jsonpbMarshaler); ok || md.ExtensionRanges().Len() > 0 {
		return nil, errUnsupported
	}
	var pairs []pair
	// The same walk as the JSON marshaller's, oneofs included, so the
	// same fields are written.
	for i := 0; i < fds.Len(); {
		fd := fds.Get(i)
		if od := fd.ContainingOneof(); od != nil {
			fd = m.WhichOneof(od)
			i += od.Fields().Len()
			if fd == nil {
				continue
			}
		} else {
			i++
		}
		if !m.Has(fd) {
			continue
		}
		n, err := valueNode(fd, m.Get(fd))
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, pair{validString(fd.JSONName()), n})
	}
	return mapping(pairs), nil
}

func wellKnown(name protoreflect.FullName) string {
	if name.Parent() == "google.protobuf" {
		return string(name.Name())
	}
	return ""
}

func valueNode(fd protoreflect.FieldDescriptor, v protoreflect.Value) (*yaml.Node, error) {
	switch {
	case fd.IsList():
		lv := v.List()
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, 0, lv.Len())}
		for i := range lv.Len() {
			n, err := singularNode(fd, lv.Get(i))
			if err != nil {
				return nil, err
			}
			s.Content = append(s.Content, n)
		}
		return s, nil
	case fd.IsMap():
		vfd := fd.MapValue()
		mv := v.Map()
		pairs := make([]pair, 0, mv.Len())
		var err error
		mv.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			var n *yaml.Node
			if n, err = singularNode(vfd, v); err != nil {
				return false
			}
			pairs = append(pairs, pair{validString(fmt.Sprint(k.Interface())), n})
			return true
		})
		if err != nil {
			return nil, err
		}
		return mapping(pairs), nil
	}
	return singularNode(fd, v)
}

func singularNode(fd protoreflect.FieldDescriptor, v protoreflect.Value) (*yaml.Node, error) {
	switch {
	case !v.IsValid():
		return scalar("!!null", "null"), nil
	case fd.Message() != nil:
		return protoNode(v.Message())
	case fd.Enum() != nil:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return scalar("!!null", "null"), nil
		}
		if vd := fd.Enum().Values().ByNumber(v.Enum()); vd != nil {
			return scalar("!!str", string(vd.Name())), nil
		}
		return scalar("!!int", strconv.Itoa(int(v.Enum()))), nil
	}
	switch x := v.Interface().(type) {
	case string:
		return scalar("!!str", validString(x)), nil
	case bool:
		return scalar("!!bool", strconv.FormatBool(x)), nil
	case int32:
		return scalar("!!int", strconv.FormatInt(int64(x), 10)), nil
	case uint32:
		return scalar("!!int", strconv.FormatUint(uint64(x), 10)), nil
	case int64:
		return scalar("!!str", strconv.FormatInt(x, 10)), nil
	case uint64:
		return scalar("!!str", strconv.FormatUint(x, 10)), nil
	case float32, float64:
		return floatNode(v.Float(), x)
	case []byte:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		return scalar("!!str", s), nil
	}
	return nil, errUnsupported
}

// floatNode is a float as the JSON marshaller writes it: x (the float32 or
// float64 itself) in encoding/json's format, or a string for the
// non-finite values.
func floatNode(f float64, x any) (*yaml.Node, error) {
	switch {
	case math.IsInf(f, 1):
		return scalar("!!str", "Infinity"), nil
	case math.IsInf(f, -1):
		return scalar("!!str", "-Infinity"), nil
	case math.IsNaN(f):
		return scalar("!!str", "NaN"), nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return numberNode(string(b)), nil
}

func structNode(st *structpb.Struct) (*yaml.Node, error) {
	fields := st.GetFields()
	pairs := make([]pair, 0, len(fields))
	for k, v := range fields {
		n, err := jsonValueNode(v)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, pair{validString(k), n})
	}
	return mapping(pairs), nil
}

func listNode(l *structpb.ListValue) (*yaml.Node, error) {
	vals := l.GetValues()
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, 0, len(vals))}
	for _, v := range vals {
		n, err := jsonValueNode(v)
		if err != nil {
			return nil, err
		}
		s.Content = append(s.Content, n)
	}
	return s, nil
}

func jsonValueNode(v *structpb.Value) (*yaml.Node, error) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NullValue:
		return scalar("!!null", "null"), nil
	case *structpb.Value_NumberValue:
		return floatNode(k.NumberValue, k.NumberValue)
	case *structpb.Value_StringValue:
		return scalar("!!str", validString(k.StringValue)), nil
	case *structpb.Value_BoolValue:
		return scalar("!!bool", strconv.FormatBool(k.BoolValue)), nil
	case *structpb.Value_StructValue:
		return structNode(k.StructValue)
	case *structpb.Value_ListValue:
		return listNode(k.ListValue)
	}
	return nil, errors.New("nil Value")
}

// durationNode is a Duration as its JSON string: seconds with 0, 3, 6 or 9
// fractional digits and an "s".
func durationNode(m protoreflect.Message) (*yaml.Node, error) {
	const maxSeconds, second = 315576000000, int64(1e9)
	fds := m.Descriptor().Fields()
	s, ns := m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
	switch {
	case s < -maxSeconds || s > maxSeconds:
		return nil, fmt.Errorf("seconds out of range %v", s)
	case ns <= -second || ns >= second:
		return nil, fmt.Errorf("ns out of range (%v, %v)", -second, second)
	case s > 0 && ns < 0 || s < 0 && ns > 0:
		return nil, errors.New("signs of seconds and nanos do not match")
	}
	sign := ""
	if s < 0 || ns < 0 {
		sign, s, ns = "-", -s, -ns
	}
	x := fmt.Sprintf("%s%d.%09d", sign, s, ns)
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, ".000")
	return scalar("!!str", x+"s"), nil
}

// validString is s as it reads back from JSON: encoding/json writes each
// byte of invalid UTF-8 as U+FFFD.
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // an invalid byte ranges as utf8.RuneError
	}
	return b.String()
}

// manifestNode is manifestJSON's document as a node tree, built directly
// when the spec is a message the walk supports.
func manifestNode(obj lower.Object) (*yaml.Node, error) {
	o := obj
	spec, err := specMessage(o)
	if err != nil {
		return nil, err
	}
	sn, err := protoNode(spec.ProtoReflect())
	if err != nil {
		return nil, err
	}
	apiVersion, kind := gvk(o)
	meta := []pair{{"name", scalar("!!str", validString(obj.GetName()))}, {"namespace", scalar("!!str", validString(obj.GetNamespace()))}}
	if m := obj.GetLabels(); len(m) > 0 {
		meta = append(meta, pair{"labels", stringMap(m)})
	}
	if m := obj.GetAnnotations(); len(m) > 0 {
		meta = append(meta, pair{"annotations", stringMap(m)})
	}
	return mapping([]pair{
		{"apiVersion", scalar("!!str", validString(apiVersion))},
		{"kind", scalar("!!str", validString(kind))},
		{"metadata", mapping(meta)},
		{"spec", sn},
	}), nil
}

func stringMap(m map[string]string) *yaml.Node {
	pairs := make([]pair, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, pair{validString(k), scalar("!!str", validString(v))})
	}
	return mapping(pairs)
}

// specMessage is the object's Spec as a message, or errUnsupported.
func specMessage(o lower.Object) (proto.Message, error) {
	spec, err := specField(o)
	if err != nil {
		return nil, err
	}
	m, ok := spec.(proto.Message)
	if !ok {
		return nil, errUnsupported
	}
	return m, nil
}
