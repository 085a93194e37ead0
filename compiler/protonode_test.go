package compiler

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/golang/protobuf/jsonpb"
	protov1 "github.com/golang/protobuf/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/detour-mesh/detour/compiler/lower"
)

func emit(t *testing.T, n *yaml.Node) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, encodeYAML(&buf, n))
	return buf.String()
}

// viaJSON is the reference rendering: the API types' JSON, read back.
func viaJSON(t *testing.T, o lower.Object) string {
	t.Helper()
	j, err := manifestJSON(o)
	require.NoError(t, err)
	n, err := jsonNode(j)
	require.NoError(t, err)
	return emit(t, n)
}

// TestProtoNodeMatchesJSON: the direct walk renders every message exactly
// as the JSON marshaller of the API types does, for the values that are
// easy to get wrong.
func TestProtoNodeMatchesJSON(t *testing.T) {
	st, err := structpb.NewStruct(map[string]any{
		"int": 100, "frac": 0.5, "tiny": 1e-7, "huge": 1e21, "neg": -3.25, "null": nil,
		"list": []any{"a", 1, true, map[string]any{}}, "empty": []any{}, "nested": map[string]any{"b": "x: y", "a": "<&>"},
		"yes": "yes", "num": "0123",
	})
	require.NoError(t, err)
	st.Fields["a\xffb"] = &structpb.Value{Kind: &structpb.Value_StringValue{StringValue: "c\xfe\xffd"}}
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"empty", &v1alpha3.DestinationRule{}},
		{"struct", st},
		{"struct in a list value", structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(math.Inf(1)), structpb.NewNumberValue(2)}})},
		{"durations", &v1alpha3.OutlierDetection{
			Interval:         durationpb.New(1500 * time.Millisecond),
			BaseEjectionTime: durationpb.New(-2*time.Second - time.Microsecond),
		}},
		{"wrappers and unknown enum", &v1alpha3.TrafficPolicy{
			Tls:         &v1alpha3.ClientTLSSettings{Mode: 99, Sni: "a\xffb"},
			RetryBudget: &v1alpha3.TrafficPolicy_RetryBudget{Percent: wrapperspb.Double(0.1), MinRetryConcurrency: 3},
			OutlierDetection: &v1alpha3.OutlierDetection{
				Consecutive_5XxErrors: wrapperspb.UInt32(0), MinHealthPercent: -1, SplitExternalLocalOriginErrors: true,
			},
		}},
		{"oneof and uint64", &v1alpha3.LoadBalancerSettings{LbPolicy: &v1alpha3.LoadBalancerSettings_ConsistentHash{
			ConsistentHash: &v1alpha3.LoadBalancerSettings_ConsistentHashLB{
				HashKey:         &v1alpha3.LoadBalancerSettings_ConsistentHashLB_HttpHeaderName{HttpHeaderName: "x"},
				MinimumRingSize: math.MaxUint64,
			},
		}}},
		{"maps and lists", &v1alpha3.Gateway{
			Selector: map[string]string{"b": "2", "a": "true", "": "~"},
			Servers:  []*v1alpha3.Server{{Hosts: []string{"*", "null"}, Port: &v1alpha3.Port{Number: 443}}, {}},
		}},
		{"bytes", wrapperspb.Bytes([]byte{0, 1, 0xff})},
		{"float32", wrapperspb.Float(0.1)},
		{"int64", wrapperspb.Int64(math.MinInt64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := (&jsonpb.Marshaler{}).MarshalToString(protov1.MessageV1(tt.msg))
			require.NoError(t, err)
			want, err := jsonNode([]byte(j))
			require.NoError(t, err)
			got, err := protoNode(tt.msg.ProtoReflect())
			require.NoError(t, err)
			assert.Equal(t, emit(t, want), emit(t, got), "JSON: %s", j)
		})
	}
}

// TestProtoNodeUnsupported: the shapes the walk leaves to the JSON path
// say so instead of rendering something else.
func TestProtoNodeUnsupported(t *testing.T) {
	a, err := anypb.New(wrapperspb.String("x"))
	require.NoError(t, err)
	for _, m := range []proto.Message{a, timestamppb.New(time.Unix(0, 0))} {
		_, err := protoNode(m.ProtoReflect())
		assert.ErrorIs(t, err, errUnsupported, "%T", m)
	}
}

// TestRenderMatchesJSON: every object the examples and the benchmark's
// generated intents produce renders as it did through JSON.
func TestRenderMatchesJSON(t *testing.T) {
	srcs := sampleSources(t)
	objects := 0
	for _, s := range srcs {
		bundles, err := lower.Lower(s.Intent, GoldenOptions)
		require.NoError(t, err)
		for _, b := range bundles {
			for _, o := range b.Objects {
				n, err := manifestNode(o)
				require.NoError(t, err)
				assert.Equal(t, viaJSON(t, o), emit(t, n), "%s %s", o.GetObjectKind().GroupVersionKind().Kind, o.GetName())
				objects++
			}
		}
	}
	assert.Greater(t, objects, 100)
}

// TestRenderMetadata: labels and annotations, present or not, render as
// the JSON path does.
func TestRenderMetadata(t *testing.T) {
	for _, meta := range []metav1.ObjectMeta{
		{Name: "a", Namespace: "b"},
		{Name: "a", Namespace: "b", Labels: map[string]string{}, Annotations: map[string]string{"k": "v: w", "j": "1.5"}},
		{Name: "on", Namespace: "", Labels: map[string]string{"z": "", "y": "x"}},
	} {
		o := &networkingv1.Gateway{TypeMeta: metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Gateway"}, ObjectMeta: meta}
		n, err := manifestNode(o)
		require.NoError(t, err)
		assert.Equal(t, viaJSON(t, o), emit(t, n))
	}
}
