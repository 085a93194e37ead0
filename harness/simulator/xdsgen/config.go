package xdsgen

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/resource"
)

// configTime is the creation time given to every configuration. Istio
// breaks ties between conflicting resources by creation time, then by
// name; one fixed time keeps a generation independent of the wall clock.
var configTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// document is one YAML document of a configuration and where it starts.
type document struct {
	index int // 1-based
	line  int // 1-based line of its first line in the file
	text  string
}

var separator = regexp.MustCompile(`^---\s*(#.*)?$`)

// splitDocuments splits a YAML stream at its "---" lines.
func splitDocuments(s string) []document {
	var (
		docs []document
		cur  strings.Builder
		line = 1
		n    = 0
	)
	start := 1
	flush := func() {
		n++
		docs = append(docs, document{index: n, line: start, text: cur.String()})
		cur.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64*1024), len(s)+1)
	for sc.Scan() {
		l := sc.Text()
		if separator.MatchString(l) {
			flush()
			start = line + 1
		} else {
			cur.WriteString(l)
			cur.WriteByte('\n')
		}
		line++
	}
	flush()
	return docs
}

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
	for _, d := range splitDocuments(text) {
		var h header
		if err := yaml.Unmarshal([]byte(d.text), &h); err != nil {
			msg := err.Error()
			line, col := d.line, 1
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				line, msg = d.line+n-1, m[2]
			}
			return nil, fmt.Errorf("%s:%d:%d: document %d: invalid YAML: %s", name, line, col, d.index, msg)
		}
		if h.APIVersion == "" && h.Kind == "" && h.Metadata.Name == "" {
			if strings.TrimSpace(stripComments(d.text)) == "" || isNull(d.text) {
				continue // empty document
			}
			return nil, fmt.Errorf("%s:%d:1: document %d: want a Kubernetes-style resource (apiVersion, kind, metadata)", name, d.line, d.index)
		}
		what := fmt.Sprintf("document %d (%s %s)", d.index, h.Kind, qualified(h.Metadata.Namespace, h.Metadata.Name))
		c, known, err := parseDocument(d.text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:1: %s: %v", name, d.line, what, err)
		}
		if !known {
			if skipOther {
				continue
			}
			return nil, fmt.Errorf("%s:%d:1: %s: %s is not a kind Istio's configuration generator reads", name, d.line, what, h.APIVersion+"/"+h.Kind)
		}
		if c.Namespace == "" {
			c.Namespace = "default"
		}
		c.CreationTimestamp = configTime
		out = append(out, parsed{cfg: *c, where: fmt.Sprintf("%s:%d:1: %s", name, d.line, what)})
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
