package envoy

import (
	"fmt"
	"strings"

	udpatype "github.com/cncf/xds/go/udpa/type/v1"
	xdstype "github.com/cncf/xds/go/xds/type/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// extensionType is the type Envoy finds an extension's factory by: the
// full name after the typed config's last '/', or for a TypedStruct
// (xds.type.v3 or udpa.type.v1) the type it wraps
// (source/common/config/utility.h, getFactoryType). The type is the only
// key: since 1.22 a name alone finds nothing
// (envoy.reloadable_features.no_extension_lookup_by_name, on by default;
// its by-name fallback removed in 1.39), so a config without
// typed_config has the type "" and no factory.
func extensionType(a *anypb.Any) (string, *structpb.Struct) {
	t := typeName(a.GetTypeUrl())
	var ts interface {
		proto.Message
		GetTypeUrl() string
		GetValue() *structpb.Struct
	}
	switch t {
	case "xds.type.v3.TypedStruct":
		ts = &xdstype.TypedStruct{}
	case "udpa.type.v1.TypedStruct":
		ts = &udpatype.TypedStruct{}
	}
	if ts != nil && a.UnmarshalTo(ts) == nil {
		return typeName(ts.GetTypeUrl()), ts.GetValue()
	}
	return t, nil
}

// typeName is a type URL's full name (after its last '/').
func typeName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

// extensionConfig reads an extension's typed config into m, from the Any
// or, for a TypedStruct, from its JSON-shaped value
// (Config::Utility::translateOpaqueConfig).
func extensionConfig(a *anypb.Any, m proto.Message) error {
	if a == nil {
		return nil
	}
	if _, s := extensionType(a); s != nil {
		b, err := protojson.Marshal(s)
		if err != nil {
			return err
		}
		return protojson.Unmarshal(b, m)
	}
	if err := a.UnmarshalTo(m); err != nil {
		return fmt.Errorf("unable to unpack %s as %s: %v", a.GetTypeUrl(), proto.MessageName(m), err)
	}
	return nil
}
