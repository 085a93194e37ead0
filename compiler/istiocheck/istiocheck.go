// Package istiocheck validates compiled resources with Istio's own code:
// the conversion and validation behind `istioctl validate` (a document is
// decoded into its Istio type with strict JSON, then checked by the
// schema's ValidateConfig). Unlike istioctl, a document of a kind Istio does
// not know is an error, so a typo in a kind cannot slip through.
//
// It is a separate Go module because istio.io/istio is large; the main
// module never imports it.
package istiocheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"

	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
)

// Skipped are the (apiVersion, kind) pairs that are not Istio resources but
// belong in compiled output: Detour's own intent document, validated by the
// CUE schema instead.
var Skipped = map[string]bool{
	"detour.dev/v1alpha1/FailoverIntent": true,
}

// Result is the outcome for one document.
type Result struct {
	Index    int    // 0-based position in the stream
	Kind     string // apiVersion/kind
	Name     string
	Skipped  bool
	Warnings []string
}

// topLevel are the fields istioctl accepts at the top of a resource.
var topLevel = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "spec": true, "status": true}

// Validate checks every document of a YAML stream. It returns the per-document
// results and every error found, each prefixed with the document's position
// and name.
func Validate(r io.Reader) ([]Result, error) {
	dec := kubeyaml.NewYAMLOrJSONDecoder(r, 4096)
	var (
		out  []Result
		errs []error
	)
	for i := 0; ; i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return out, errors.Join(append(errs, fmt.Errorf("document %d: %w", i, err))...)
		}
		if obj == nil { // empty document between separators
			i--
			continue
		}
		un := &unstructured.Unstructured{Object: obj}
		res := Result{Index: i, Kind: un.GetAPIVersion() + "/" + un.GetKind(), Name: un.GetName()}
		if Skipped[res.Kind] {
			res.Skipped = true
			out = append(out, res)
			continue
		}
		warnings, err := validateOne(un)
		res.Warnings = warnings
		out = append(out, res)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s %s): %w", i, res.Kind, res.Name, err))
		}
	}
	return out, errors.Join(errs...)
}

func validateOne(un *unstructured.Unstructured) ([]string, error) {
	gvk := un.GroupVersionKind()
	schema, ok := collections.Pilot.FindByGroupVersionAliasesKind(config.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind})
	if !ok {
		return nil, fmt.Errorf("kind %s is not an Istio resource this check knows", un.GetAPIVersion()+"/"+un.GetKind())
	}
	for k := range un.Object {
		if !topLevel[k] {
			return nil, fmt.Errorf("unknown top-level field %q", k)
		}
	}
	if un.GetName() == "" || un.GetNamespace() == "" {
		return nil, errors.New("metadata.name and metadata.namespace must be set")
	}
	cfg, err := convert(schema, un)
	if err != nil {
		return nil, fmt.Errorf("cannot parse spec: %w", err)
	}
	warn, err := schema.ValidateConfig(*cfg)
	var ws []string
	if warn != nil {
		for _, w := range strings.Split(warn.Error(), "\n") {
			if w = strings.TrimSpace(w); w != "" {
				ws = append(ws, w)
			}
		}
	}
	return ws, err
}

// convert mirrors istioctl's conversion: the spec is decoded strictly, so an
// unknown or misspelt field is an error.
func convert(schema resource.Schema, un *unstructured.Unstructured) (*config.Config, error) {
	spec, err := json.Marshal(un.Object["spec"])
	if err != nil {
		return nil, err
	}
	inst, err := schema.NewInstance()
	if err != nil {
		return nil, err
	}
	if err := config.ApplyJSONStrict(inst, string(spec)); err != nil {
		return nil, err
	}
	return &config.Config{
		Meta: config.Meta{
			GroupVersionKind: schema.GroupVersionKind(),
			Name:             un.GetName(),
			Namespace:        un.GetNamespace(),
			Labels:           un.GetLabels(),
			Annotations:      un.GetAnnotations(),
		},
		Spec: inst,
	}, nil
}

// ValidateBytes is Validate over an in-memory stream.
func ValidateBytes(b []byte) ([]Result, error) { return Validate(bytes.NewReader(b)) }
