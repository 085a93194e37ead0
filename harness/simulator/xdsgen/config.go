package xdsgen

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/detour-mesh/detour/internal/yamldoc"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
)

// configTime is the creation time given to every configuration. Istio
// breaks ties between conflicting resources by creation time, then by
// name; one fixed time keeps a generation independent of the wall clock.
var configTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// parsed is one configuration and the document it came from.
type parsed struct {
	cfg   config.Config
	where string // file:line:col: document N (Kind ns/name)
}

// header is what every Kubernetes-style document names itself by.
type header struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseConfig turns Istio configuration YAML into Istio's config model,
// validated as istiod validates it. Errors name the file, the line where
// the document starts (or the line of a syntax error) and the resource.
func parseConfig(name, text string, skipOther bool) ([]parsed, error) {
	if name == "" {
		name = "config"
	}
	var out []parsed
	for _, d := range yamldoc.Bytes([]byte(text)) {
		var h header
		if err := yaml.Unmarshal(d.Text, &h); err != nil {
			msg := err.Error()
			line, col := d.Line, 1
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				line, msg = d.Line+n-1, m[2]
			}
			return nil, fmt.Errorf("%s:%d:%d: document %d: invalid YAML: %s", name, line, col, d.Index, msg)
		}
		if h.APIVersion == "" && h.Kind == "" && h.Metadata.Name == "" {
			if strings.TrimSpace(stripComments(string(d.Text))) == "" || isNull(string(d.Text)) {
				continue // empty document
			}
			return nil, fmt.Errorf("%s:%d:1: document %d: want a Kubernetes-style resource (apiVersion, kind, metadata)", name, d.Line, d.Index)
		}
		what := fmt.Sprintf("document %d (%s %s)", d.Index, h.Kind, qualified(h.Metadata.Namespace, h.Metadata.Name))
		c, known, err := parseDocument(string(d.Text))
		if err != nil {
			return nil, fmt.Errorf("%s:%d:1: %s: %v", name, d.Line, what, err)
		}
		if !known {
			if skipOther {
				continue
			}
			return nil, fmt.Errorf("%s:%d:1: %s: %s is not a kind Istio's configuration generator reads", name, d.Line, what, h.APIVersion+"/"+h.Kind)
		}
		if c.Namespace == "" {
			c.Namespace = "default"
		}
		c.CreationTimestamp = configTime
		out = append(out, parsed{cfg: *c, where: fmt.Sprintf("%s:%d:1: %s", name, d.Line, what)})
	}
	return out, nil
}

// parseDocument converts one document as istiod's config store would hold
// it, then validates it with Istio's validation for its kind. Unlike
// crd.ParseInputs it rejects unknown fields: the API server would prune a
// misspelt field with only a warning, and a simulation of a policy the
// user did not mean to write would mislead.
func parseDocument(text string) (*config.Config, bool, error) {
	var obj crd.IstioKind
	if err := kubeyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 512*1024).Decode(&obj); err != nil {
		return nil, false, err
	}
	gvk := obj.GroupVersionKind()
	s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(resource.FromKubernetesGVK(&gvk))
	if !ok {
		return nil, false, nil
	}
	c, err := crd.ConvertObjectInternal(s, &obj, "", func(s resource.Schema, js string) (config.Spec, error) {
		spec, err := s.NewInstance()
		if err != nil {
			return nil, err
		}
		return spec, config.ApplyJSONStrict(spec, js)
	})
	if err != nil {
		return nil, true, fmt.Errorf("spec: %v", err)
	}
	if _, err := s.ValidateConfig(*c); err != nil {
		return nil, true, fmt.Errorf("invalid %s: %v", obj.Kind, err)
	}
	return c, true, nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func isNull(s string) bool {
	t := strings.TrimSpace(stripComments(s))
	return t == "null" || t == "~"
}
