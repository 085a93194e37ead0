package proxywasm

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// customNamespace is Envoy's stat namespace for metrics plugins define.
const customNamespace = "wasmcustom"

// Stats is the process-wide stat store. Every VM that defines a metric of
// the same name gets its own id for the same stat, as in Envoy.
type Stats struct {
	mu    sync.Mutex
	stats map[string]*stat
	rules []TagRule
}

// SetTagRules sets the tag extraction rules in Envoy's order
// (TagProducerImpl): DefaultTagRules unless use_all_default_tags is false,
// then the user's stats_tags. Without rules names are reported whole.
func (s *Stats) SetTagRules(rules []TagRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = rules
}

type stat struct {
	name    string
	typ     MetricType
	counter uint64
	gauge   int64
	samples []uint64
}

func newStats() *Stats { return &Stats{stats: map[string]*stat{}} }

func (s *Stats) get(name string, typ MetricType) *stat {
	s.mu.Lock()
	defer s.mu.Unlock()
	full := customNamespace + "." + name
	st, ok := s.stats[full]
	if !ok {
		st = &stat{name: full, typ: typ}
		s.stats[full] = st
	}
	return st
}

// Metric is a snapshot of one stat.
type Metric struct {
	// Name is the Envoy stat name, with the wasmcustom. prefix.
	Name string `json:"name"`
	Type string `json:"type"`
	// Value is the counter or gauge value.
	Value int64 `json:"value"`
	// Samples are a histogram's recorded values, in order.
	Samples []uint64 `json:"samples,omitempty"`
	// Tags are the tags extracted from Name by the tag rules.
	Tags []Tag `json:"tags,omitempty"`

	extracted string // tag-extracted name
}

// Snapshot returns every stat, sorted by name.
func (s *Stats) Snapshot() []Metric {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Metric, 0, len(s.stats))
	for _, st := range s.stats {
		m := Metric{Name: st.name, Type: st.typ.String()}
		m.extracted, m.Tags = extractTags(s.rules, st.name)
		switch st.typ {
		case MetricCounter:
			m.Value = int64(st.counter)
		case MetricGauge:
			m.Value = st.gauge
		case MetricHistogram:
			m.Samples = append([]uint64(nil), st.samples...)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns one stat by its full name (wasmcustom.<name>).
func (s *Stats) Lookup(name string) (Metric, bool) {
	for _, m := range s.Snapshot() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Envoy's default histogram buckets.
var defaultBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

var promName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var promSanitize = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// WritePrometheus writes the stats as Envoy's /stats/prometheus does for a
// registered custom namespace: the wasmcustom. prefix is stripped and no
// envoy_ prefix is added; names that are not valid Prometheus names after
// sanitising are skipped.
//
// Names are the tag-extracted names; stats that share one are written
// under one # TYPE line with their tags as labels.
func (s *Stats) WritePrometheus(w io.Writer) error {
	ms := s.Snapshot()
	sortByExtractedName(ms)
	last := ""
	for _, m := range ms {
		name := promSanitize.ReplaceAllString(strings.TrimPrefix(m.extracted, customNamespace+"."), "_")
		if !promName.MatchString(name) {
			continue
		}
		var err error
		typeLine := name != last
		last = name
		tags := promTags(m.Tags)
		switch m.Type {
		case "counter", "gauge":
			if typeLine {
				fmt.Fprintf(w, "# TYPE %s %s\n", name, m.Type)
			}
			_, err = fmt.Fprintf(w, "%s%s %d\n", name, tags, m.Value)
		case "histogram":
			if typeLine {
				_, err = fmt.Fprintf(w, "# TYPE %s histogram\n", name)
			}
			var sum uint64
			for _, v := range m.Samples {
				sum += v
			}
			for _, b := range defaultBuckets {
				n := 0
				for _, v := range m.Samples {
					if float64(v) <= b {
						n++
					}
				}
				fmt.Fprintf(w, "%s_bucket%s %d\n", name, promTags(m.Tags, `le="`+strconv.FormatFloat(b, 'f', -1, 64)+`"`), n)
			}
			fmt.Fprintf(w, "%s_bucket%s %d\n%s_sum%s %d\n%s_count%s %d\n", name, promTags(m.Tags, `le="+Inf"`), len(m.Samples), name, tags, sum, name, tags, len(m.Samples))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// metric is a VM-local id bound to a stat.
type metric struct {
	typ MetricType
	st  *stat
}

func (vm *VM) defineMetric(typ MetricType, name string) (uint32, Status) {
	if typ > MetricHistogram {
		return 0, StatusBadArgument
	}
	vm.nextMetric[typ] += metricTypeMask + 1
	id := vm.nextMetric[typ]
	vm.metrics[id] = &metric{typ: typ, st: vm.p.Stats.get(name, typ)}
	return id, StatusOK
}

func (vm *VM) incrementMetric(id uint32, delta int64) Status {
	m, ok := vm.metrics[id]
	if !ok {
		return StatusNotFound
	}
	st := vm.p.Stats
	st.mu.Lock()
	defer st.mu.Unlock()
	switch m.typ {
	case MetricCounter:
		if delta <= 0 {
			return StatusBadArgument
		}
		m.st.counter += uint64(delta)
	case MetricGauge:
		m.st.gauge += delta
	default:
		return StatusBadArgument
	}
	return StatusOK
}

func (vm *VM) recordMetric(id uint32, value uint64) Status {
	m, ok := vm.metrics[id]
	if !ok {
		return StatusNotFound
	}
	st := vm.p.Stats
	st.mu.Lock()
	defer st.mu.Unlock()
	switch m.typ {
	case MetricCounter:
		m.st.counter += value // Envoy adds on record for counters.
	case MetricGauge:
		m.st.gauge = int64(value)
	case MetricHistogram:
		m.st.samples = append(m.st.samples, value)
	}
	return StatusOK
}

func (vm *VM) getMetric(id uint32) (uint64, Status) {
	m, ok := vm.metrics[id]
	if !ok {
		return 0, StatusNotFound
	}
	st := vm.p.Stats
	st.mu.Lock()
	defer st.mu.Unlock()
	switch m.typ {
	case MetricCounter:
		return m.st.counter, StatusOK
	case MetricGauge:
		return uint64(m.st.gauge), StatusOK
	}
	return 0, StatusBadArgument
}
