package proxywasm

import (
	"encoding/binary"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// StreamInfo is the per-stream attribute source the driver fills in as the
// stream progresses: response.* only once a response exists, upstream.*
// only once the router picked a host.
type StreamInfo struct {
	StartTime time.Time
	Protocol  string
	// RequestHeaders are the live request headers (request.* reads them).
	RequestHeaders *Headers

	HasRoute                       bool
	RouteName, VirtualHostName     string
	ClusterName                    string
	RouteMetadata, ClusterMetadata Metadata

	HasUpstream            bool
	UpstreamAddress        string
	UpstreamHostMetadata   Metadata
	UpstreamLocality       Locality
	AttemptCount           uint64
	TransportFailureReason string

	HasResponse         bool
	ResponseCode        int
	ResponseCodeDetails string
	ResponseFlags       uint64
	ResponseHeaders     *Headers
	ResponseTrailers    *Headers
	BackendLatency      time.Duration

	Completed                 bool
	Duration                  time.Duration
	RequestSize, ResponseSize int64

	SourceAddress, DestinationAddress string
	ConnectionID                      uint64
	MTLS                              bool
	RequestedServerName               string
	ListenerDirection                 int64

	// FilterState holds values proxy_set_property wrote (keys wasm.<path>).
	FilterState map[string][]byte
}

// Metadata is an envoy.config.core.v3.Metadata: filter namespace → fields.
type Metadata map[string]map[string]any

// Locality is an envoy.config.core.v3.Locality.
type Locality struct{ Region, Zone, SubZone string }

func (m Metadata) proto() (*corev3.Metadata, error) {
	out := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	for ns, fields := range m {
		s, err := structpb.NewStruct(fields)
		if err != nil {
			return nil, err
		}
		out.FilterMetadata[ns] = s
	}
	return out, nil
}

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func i64b(v int64) []byte { return u64(uint64(v)) }
func boolb(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}

func marshal(m proto.Message) ([]byte, Status) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, StatusSerializationFailure
	}
	return b, StatusOK
}

// structValue serialises a structpb leaf like Envoy's CEL conversion.
func structValue(v *structpb.Value, rest []string) ([]byte, Status) {
	for len(rest) > 0 {
		st := v.GetStructValue()
		if st == nil {
			return nil, StatusNotFound
		}
		nv, ok := st.Fields[rest[0]]
		if !ok {
			return nil, StatusNotFound
		}
		v, rest = nv, rest[1:]
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_StringValue:
		return []byte(k.StringValue), StatusOK
	case *structpb.Value_NumberValue:
		return u64(math.Float64bits(k.NumberValue)), StatusOK
	case *structpb.Value_BoolValue:
		return boolb(k.BoolValue), StatusOK
	case *structpb.Value_StructValue:
		return marshal(k.StructValue)
	case *structpb.Value_ListValue:
		return marshal(k.ListValue)
	}
	return nil, StatusNotFound
}

func metadataValue(m Metadata, rest []string) ([]byte, Status) {
	if m == nil {
		return nil, StatusNotFound
	}
	pm, err := m.proto()
	if err != nil {
		return nil, StatusSerializationFailure
	}
	if len(rest) == 0 {
		return marshal(pm)
	}
	if rest[0] != "filter_metadata" {
		return nil, StatusNotFound
	}
	if len(rest) == 1 {
		var pairs [][2]string
		for ns, s := range pm.FilterMetadata {
			b, _ := marshal(s)
			pairs = append(pairs, [2]string{ns, string(b)})
		}
		return encodePairs(pairs), StatusOK
	}
	s, ok := pm.FilterMetadata[rest[1]]
	if !ok {
		return nil, StatusNotFound
	}
	return structValue(structpb.NewStructValue(s), rest[2:])
}

func headersValue(h *Headers, rest []string) ([]byte, Status) {
	if h == nil {
		return nil, StatusNotFound
	}
	if len(rest) == 0 {
		// CEL's header map joins repeated values with commas.
		var pairs [][2]string
		seen := map[string]int{}
		for _, p := range h.pairs {
			if i, ok := seen[p[0]]; ok {
				pairs[i][1] += "," + p[1]
				continue
			}
			seen[p[0]] = len(pairs)
			pairs = append(pairs, p)
		}
		return encodePairs(pairs), StatusOK
	}
	if len(rest) > 1 {
		return nil, StatusNotFound
	}
	vs := h.Values(rest[0])
	if len(vs) == 0 {
		return nil, StatusNotFound
	}
	return []byte(strings.Join(vs, ",")), StatusOK
}

func leaf(b []byte, rest []string) ([]byte, Status) {
	if len(rest) > 0 {
		return nil, StatusNotFound
	}
	return b, StatusOK
}

// getProperty resolves a NUL-joined path against Envoy 1.33's attributes,
// falling back to filter state wasm.<first segment>.
func (vm *VM) getProperty(c *contextState, path []string) ([]byte, Status) {
	if len(path) == 0 || path[0] == "" {
		return nil, StatusNotFound
	}
	var info *StreamInfo
	if c != nil && c.stream != nil {
		info = c.stream.info
	}
	var root *Root
	if c != nil {
		root = c.root
	}
	head, rest := path[0], path[1:]
	if vm.cfg.Compat.LegacyAttributes {
		switch head {
		case "cluster_name", "cluster_metadata", "route_name", "route_metadata", "upstream_host_metadata",
			"listener_direction", "listener_metadata", "node":
			return vm.getProperty(c, append([]string{"xds", head}, rest...))
		}
	}
	switch head {
	case "plugin_name":
		if root != nil {
			return leaf([]byte(root.cfg.Name), rest)
		}
		return nil, StatusNotFound
	case "plugin_root_id":
		if root != nil {
			return leaf([]byte(root.cfg.RootID), rest)
		}
		return nil, StatusNotFound
	case "plugin_vm_id":
		return leaf([]byte(vm.cfg.VMID), rest)
	case "xds":
		return vm.xdsProperty(info, rest)
	case "request":
		if info != nil && info.RequestHeaders != nil {
			return requestProperty(info, rest)
		}
		return nil, StatusNotFound
	case "response":
		if info != nil && info.HasResponse {
			return responseProperty(info, rest)
		}
		return nil, StatusNotFound
	case "upstream":
		if info != nil && info.HasUpstream {
			return upstreamProperty(info, rest)
		}
		return nil, StatusNotFound
	case "source", "destination":
		if info == nil {
			return nil, StatusNotFound
		}
		addr := info.SourceAddress
		if head == "destination" {
			addr = info.DestinationAddress
		}
		if addr == "" || len(rest) != 1 {
			return nil, StatusNotFound
		}
		switch rest[0] {
		case "address":
			return []byte(addr), StatusOK
		case "port":
			if i := strings.LastIndexByte(addr, ':'); i >= 0 {
				p, _ := strconv.ParseInt(addr[i+1:], 10, 64)
				return i64b(p), StatusOK
			}
		}
		return nil, StatusNotFound
	case "connection":
		if info == nil || len(rest) != 1 {
			return nil, StatusNotFound
		}
		switch rest[0] {
		case "id":
			return u64(info.ConnectionID), StatusOK
		case "mtls":
			return boolb(info.MTLS), StatusOK
		case "requested_server_name":
			return []byte(info.RequestedServerName), StatusOK
		}
		return nil, StatusNotFound
	case "connection_id":
		if info == nil {
			return nil, StatusNotFound
		}
		return leaf(u64(info.ConnectionID), rest)
	}
	if info != nil && info.FilterState != nil {
		if v, ok := info.FilterState["wasm."+head]; ok {
			return leaf(v, rest)
		}
	}
	return nil, StatusNotFound
}

func (vm *VM) xdsProperty(info *StreamInfo, rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	name, rest := rest[0], rest[1:]
	if name == "node" {
		n := vm.p.Node
		node := &corev3.Node{Id: n.ID, Cluster: n.Cluster}
		if n.Region != "" || n.Zone != "" || n.SubZone != "" {
			node.Locality = &corev3.Locality{Region: n.Region, Zone: n.Zone, SubZone: n.SubZone}
		}
		if n.Metadata != nil {
			s, err := structpb.NewStruct(n.Metadata)
			if err != nil {
				return nil, StatusSerializationFailure
			}
			node.Metadata = s
		}
		if len(rest) == 0 {
			return marshal(node)
		}
		switch rest[0] {
		case "id":
			return leaf([]byte(n.ID), rest[1:])
		case "cluster":
			return leaf([]byte(n.Cluster), rest[1:])
		case "locality":
			return localityValue(Locality{n.Region, n.Zone, n.SubZone}, rest[1:])
		case "metadata":
			if node.Metadata == nil {
				return nil, StatusNotFound
			}
			return structValue(structpb.NewStructValue(node.Metadata), rest[1:])
		}
		return nil, StatusNotFound
	}
	if info == nil {
		return nil, StatusNotFound
	}
	switch name {
	case "listener_direction":
		return leaf(i64b(info.ListenerDirection), rest)
	}
	if !info.HasRoute {
		return nil, StatusNotFound
	}
	switch name {
	case "route_name":
		return leaf([]byte(info.RouteName), rest)
	case "virtual_host_name":
		return leaf([]byte(info.VirtualHostName), rest)
	case "cluster_name":
		if info.ClusterName == "" {
			return nil, StatusNotFound
		}
		return leaf([]byte(info.ClusterName), rest)
	case "route_metadata":
		return metadataValue(info.RouteMetadata, rest)
	case "cluster_metadata":
		return metadataValue(info.ClusterMetadata, rest)
	case "upstream_host_metadata":
		if !info.HasUpstream {
			return nil, StatusNotFound
		}
		return metadataValue(info.UpstreamHostMetadata, rest)
	}
	return nil, StatusNotFound
}

func localityValue(l Locality, rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return marshal(&corev3.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.SubZone})
	}
	if len(rest) > 1 {
		return nil, StatusNotFound
	}
	switch rest[0] {
	case "region":
		return []byte(l.Region), StatusOK
	case "zone":
		return []byte(l.Zone), StatusOK
	case "sub_zone":
		return []byte(l.SubZone), StatusOK
	}
	return nil, StatusNotFound
}

func requestProperty(info *StreamInfo, rest []string) ([]byte, Status) {
	h := info.RequestHeaders
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	name, rest := rest[0], rest[1:]
	get := func(k string) ([]byte, Status) {
		v, ok := h.Get(k)
		if !ok {
			return nil, StatusNotFound
		}
		return leaf([]byte(v), rest)
	}
	switch name {
	case "path":
		return get(":path")
	case "url_path":
		p, ok := h.Get(":path")
		if !ok {
			return nil, StatusNotFound
		}
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return leaf([]byte(p), rest)
	case "query":
		p, _ := h.Get(":path")
		q := ""
		if u, err := url.Parse(p); err == nil {
			q = u.RawQuery
		}
		return leaf([]byte(q), rest)
	case "host":
		return get(":authority")
	case "scheme":
		return get(":scheme")
	case "method":
		return get(":method")
	case "id":
		return get("x-request-id")
	case "referer":
		return get("referer")
	case "useragent":
		return get("user-agent")
	case "headers":
		return headersValue(h, rest)
	case "protocol":
		return leaf([]byte(info.Protocol), rest)
	case "time":
		return leaf(i64b(info.StartTime.UnixNano()), rest)
	case "duration":
		if !info.Completed {
			return nil, StatusNotFound
		}
		return leaf(i64b(int64(info.Duration)), rest)
	case "size":
		if !info.Completed {
			return nil, StatusNotFound
		}
		return leaf(i64b(info.RequestSize), rest)
	case "total_size":
		if !info.Completed {
			return nil, StatusNotFound
		}
		return leaf(i64b(info.RequestSize+int64(h.ByteSize())), rest)
	}
	return nil, StatusNotFound
}

func responseProperty(info *StreamInfo, rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	name, rest := rest[0], rest[1:]
	switch name {
	case "code":
		return leaf(i64b(int64(info.ResponseCode)), rest)
	case "code_details":
		if info.ResponseCodeDetails == "" {
			return nil, StatusNotFound
		}
		return leaf([]byte(info.ResponseCodeDetails), rest)
	case "flags":
		return leaf(u64(info.ResponseFlags), rest)
	case "headers":
		return headersValue(info.ResponseHeaders, rest)
	case "trailers":
		return headersValue(info.ResponseTrailers, rest)
	case "grpc_status":
		return nil, StatusNotFound
	case "backend_latency":
		return leaf(i64b(int64(info.BackendLatency)), rest)
	case "size":
		if !info.Completed {
			return nil, StatusNotFound
		}
		return leaf(i64b(info.ResponseSize), rest)
	case "total_size":
		if !info.Completed {
			return nil, StatusNotFound
		}
		return leaf(i64b(info.ResponseSize+int64(info.ResponseHeaders.ByteSize())), rest)
	}
	return nil, StatusNotFound
}

func upstreamProperty(info *StreamInfo, rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	name, rest := rest[0], rest[1:]
	switch name {
	case "address":
		if info.UpstreamAddress == "" {
			return nil, StatusNotFound
		}
		return leaf([]byte(info.UpstreamAddress), rest)
	case "port":
		if i := strings.LastIndexByte(info.UpstreamAddress, ':'); i >= 0 {
			p, _ := strconv.ParseInt(info.UpstreamAddress[i+1:], 10, 64)
			return leaf(i64b(p), rest)
		}
		return nil, StatusNotFound
	case "request_attempt_count":
		return leaf(u64(info.AttemptCount), rest)
	case "transport_failure_reason":
		if info.TransportFailureReason == "" {
			return nil, StatusNotFound
		}
		return leaf([]byte(info.TransportFailureReason), rest)
	case "locality":
		return localityValue(info.UpstreamLocality, rest)
	}
	return nil, StatusNotFound
}

// setProperty writes filter state wasm.<raw path>; it has no effect on
// Envoy's own attributes and needs a stream.
func (vm *VM) setProperty(c *contextState, rawPath string, value []byte) Status {
	if c == nil || c.stream == nil {
		return StatusNotFound
	}
	info := c.stream.info
	if info.FilterState == nil {
		info.FilterState = map[string][]byte{}
	}
	info.FilterState["wasm."+rawPath] = append([]byte(nil), value...)
	return StatusOK
}
