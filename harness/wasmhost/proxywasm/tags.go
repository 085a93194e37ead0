package proxywasm

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// TagRule is one of Envoy's stats_config.stats_tags: a regex whose first
// capture group is cut from the stat name and whose second (or, without
// one, first) group is the tag's value; or a fixed value added to every
// stat.
type TagRule struct {
	Name       string
	Regex      *regexp.Regexp
	FixedValue string
}

// Tag is one extracted stat tag.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewTagRules compiles a user-supplied stats_tags entry. As in Envoy's
// TagProducerImpl, an entry with neither regex nor fixed_value names a
// default rule (it is an error if there is none). Envoy uses std::regex
// (ECMAScript) or RE2; Go's RE2 syntax has no look-around, so such a regex
// is rejected with the compile error.
func NewTagRules(name, regex, fixedValue string) ([]TagRule, error) {
	if name == "" {
		return nil, fmt.Errorf("tag_name is empty")
	}
	if regex != "" && fixedValue != "" {
		return nil, fmt.Errorf("tag %q: expected regex or fixed_value, not both", name)
	}
	if regex == "" && fixedValue == "" {
		var out []TagRule
		for _, r := range DefaultTagRules() {
			if r.Name == name {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("tag %q: no regex and no default regex for this name", name)
		}
		return out, nil
	}
	r, err := newTagRule(name, regex, fixedValue)
	if err != nil {
		return nil, err
	}
	return []TagRule{r}, nil
}

func newTagRule(name, regex, fixedValue string) (TagRule, error) {
	r := TagRule{Name: name, FixedValue: fixedValue}
	if regex != "" {
		re, err := regexp.Compile(regex)
		if err != nil {
			return TagRule{}, fmt.Errorf("tag %q: %v", name, err)
		}
		if re.NumSubexp() < 1 {
			return TagRule{}, fmt.Errorf("tag %q: regex %q needs a capture group", name, regex)
		}
		r.Regex = re
	}
	return r, nil
}

// DefaultTagRules are the defaults of Envoy's tag extraction
// (source/common/config/well_known_names.cc) that can match a Wasm custom
// stat. Every other default is anchored at a prefix such as ^cluster\.,
// ^http\. or ^listener\., which a "wasmcustom." name never has, so leaving
// them out changes nothing for these stats.
func DefaultTagRules() []TagRule {
	return []TagRule{
		// *_rq(_<response_code>)
		{Name: "envoy.response_code", Regex: regexp.MustCompile(`_rq(_(\d{3}))$`)},
		// *_rq_(<response_code_class>)xx
		{Name: "envoy.response_code_class", Regex: regexp.MustCompile(`_rq_(\d)xx$`)},
	}
}

// extractTags follows Envoy's TagProducerImpl::produceTags and
// TagExtractorStdRegexImpl::extractTag (source/common/stats/
// tag_producer_impl.cc, tag_extractor_impl.cc): every rule runs on the full
// name in order, each match adds a tag and marks its first group for
// removal, a second rule of a tag name that already matched is skipped, and
// the tag-extracted name is the name without the marked characters. (The
// caller orders the rules as Envoy does: defaults first, then stats_tags.)
func extractTags(rules []TagRule, name string) (string, []Tag) {
	if len(rules) == 0 {
		return name, nil
	}
	var tags []Tag
	remove := make([]bool, len(name))
	cut := false
	matched := map[string]bool{}
	for _, r := range rules {
		if matched[r.Name] {
			continue
		}
		if r.Regex == nil {
			matched[r.Name] = true
			tags = append(tags, Tag{Name: r.Name, Value: r.FixedValue})
			continue
		}
		m := r.Regex.FindStringSubmatchIndex(name)
		if m == nil || m[2] < 0 {
			continue
		}
		v := name[m[2]:m[3]]
		if len(m) > 4 && m[4] >= 0 {
			v = name[m[4]:m[5]]
		}
		tags = append(tags, Tag{Name: r.Name, Value: v})
		matched[r.Name] = true
		for i := m[2]; i < m[3]; i++ {
			remove[i] = true
			cut = true
		}
	}
	if !cut {
		return name, tags
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if !remove[i] {
			b.WriteByte(name[i])
		}
	}
	return b.String(), tags
}

// promTags renders tags (and extra label pairs) as Envoy's Prometheus
// formatter does: sanitised names, values in quotes.
func promTags(tags []Tag, extra ...string) string {
	var parts []string
	for _, t := range tags {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(t.Value)
		parts = append(parts, promSanitize.ReplaceAllString(t.Name, "_")+`="`+v+`"`)
	}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ",") + "}"
}

// sortByExtractedName orders metrics so that stats sharing a tag-extracted
// name are adjacent under one # TYPE line, as Envoy groups them.
func sortByExtractedName(ms []Metric) {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].extracted != ms[j].extracted {
			return ms[i].extracted < ms[j].extracted
		}
		return ms[i].Name < ms[j].Name
	})
}
