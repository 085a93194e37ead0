package envoy

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/detour-mesh/detour/harness/simulator/xds"
)

// Route matching follows source/common/router/config_impl.cc
// (RouteMatcher::findVirtualHost, RouteEntryImplBase::matchRoute,
// WeightedClusterEntry selection) and header_utility.cc (header matchers).

// defaultRouteTimeout is the route timeout when RouteAction.timeout is unset.
const defaultRouteTimeout = 15 * time.Second

type listenerRoutes struct {
	hcm       *hcmv3.HttpConnectionManager
	name      string
	port      uint32
	rc        *routeConfig
	stripAny  bool
	stripSame bool
}

type routeTable struct {
	listeners []*listenerRoutes
	byName    map[string]*routeConfig
	// warnings name configuration the model skipped or does not model.
	warnings []string
	// rejected is configuration Envoy's validation refuses (the route
	// configuration is NACKed): New fails with it.
	rejected []error
}

func (t *routeTable) warn(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

type routeConfig struct {
	name   string
	exact  map[string]*virtualHost
	suffix []wildcard // "*.foo.com": longest first
	prefix []wildcard // "foo.*": longest first
	def    *virtualHost
}

type wildcard struct {
	s  string
	vh *virtualHost
}

type virtualHost struct {
	name   string
	routes []*route
}

type route struct {
	name          string
	vh            *virtualHost
	match         *routeMatch
	cluster       string
	clusterHeader string
	weighted      []weightedCluster
	totalWeight   uint64
	timeout       time.Duration
	retry         *retryPolicy
	direct        *directResponse
	// unmodelled, if set, is why the model answers this route with a
	// local reply instead of forwarding (an action it does not model).
	unmodelled string
}

type weightedCluster struct {
	name   string
	weight uint64
}

type directResponse struct {
	status int
	body   string
}

type routeMatch struct {
	prefix, path  string
	regex         *regexp.Regexp
	sepPrefix     string
	caseSensitive bool
	headers       []*headerMatcher
	query         []*queryMatcher
}

func buildRoutes(s *xds.Snapshot) (*routeTable, error) {
	t := &routeTable{byName: map[string]*routeConfig{}}
	for _, rc := range s.Routes {
		t.byName[rc.GetName()] = t.compileRouteConfig(rc)
	}

	for _, l := range s.Listeners {
		lr, err := listenerHCM(l, t)
		if err != nil {
			return nil, err
		}
		if lr != nil {
			t.listeners = append(t.listeners, lr)
		}
	}
	if len(t.rejected) > 0 {
		return nil, t.rejected[0]
	}
	return t, nil
}

// listenerHCM finds the listener's first HTTP connection manager.
func listenerHCM(l *listenerv3.Listener, t *routeTable) (*listenerRoutes, error) {
	chains := append([]*listenerv3.FilterChain(nil), l.GetFilterChains()...)
	if l.GetDefaultFilterChain() != nil {
		chains = append(chains, l.GetDefaultFilterChain())
	}
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			if tc == nil || !strings.HasSuffix(tc.GetTypeUrl(), "HttpConnectionManager") {
				continue
			}
			var h hcmv3.HttpConnectionManager
			if err := tc.UnmarshalTo(&h); err != nil {
				return nil, fmt.Errorf("listener %q: http_connection_manager: %w", l.GetName(), err)
			}
			lr := &listenerRoutes{hcm: &h, name: l.GetName(), port: l.GetAddress().GetSocketAddress().GetPortValue(),
				stripAny: h.GetStripAnyHostPort(), stripSame: h.GetStripMatchingHostPort()}
			switch {
			case h.GetRouteConfig() != nil:
				lr.rc = t.compileRouteConfig(h.GetRouteConfig())
			case h.GetRds() != nil:
				name := h.GetRds().GetRouteConfigName()
				lr.rc = t.byName[name]
				if lr.rc == nil {
					// Envoy waits for RDS; a request meanwhile gets 404 NR.
					t.warn("listener %q: RDS route_config %q is not in the snapshot", l.GetName(), name)
					lr.rc = &routeConfig{name: name, exact: map[string]*virtualHost{}}
				}
			}
			return lr, nil
		}
	}
	return nil, nil
}

// find picks the routes for a request on a port.
func (t *routeTable) find(port uint32) *listenerRoutes {
	for _, l := range t.listeners {
		if port == 0 || l.port == port {
			return l
		}
	}
	// No listener: Istio names sidecar outbound route configs by port.
	for _, n := range []string{strconv.Itoa(int(port)), "http." + strconv.Itoa(int(port))} {
		if rc := t.byName[n]; rc != nil {
			return &listenerRoutes{name: n, port: port, rc: rc}
		}
	}
	return nil
}

// compileRouteConfig compiles what the model can; a route whose match it
// cannot evaluate is left out, with a warning.
func (t *routeTable) compileRouteConfig(rc *routev3.RouteConfiguration) *routeConfig {
	c := &routeConfig{name: rc.GetName(), exact: map[string]*virtualHost{}}
	for _, vh := range rc.GetVirtualHosts() {
		v := &virtualHost{name: vh.GetName()}
		for i, r := range vh.GetRoutes() {
			where := fmt.Sprintf("route_config %q: virtual_hosts[%s].routes[%d]", rc.GetName(), vh.GetName(), i)
			cr, err := compileRoute(r, vh, func(msg string) { t.warn("%s: %s", where, msg) })
			var rej rejectError
			if errors.As(err, &rej) {
				t.rejected = append(t.rejected, fmt.Errorf("%s: %w", where, err))
				continue
			}
			if err != nil {
				t.warn("%s: %v (route left out)", where, err)
				continue
			}
			cr.vh = v
			v.routes = append(v.routes, cr)
		}
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				if c.def == nil {
					c.def = v
				}
			case strings.HasPrefix(d, "*"):
				c.suffix = append(c.suffix, wildcard{d[1:], v})
			case strings.HasSuffix(d, "*"):
				c.prefix = append(c.prefix, wildcard{d[:len(d)-1], v})
			default:
				if c.exact[d] == nil {
					c.exact[d] = v
				}
			}
		}
	}
	byLen := func(w []wildcard) {
		sort.SliceStable(w, func(i, j int) bool { return len(w[i].s) > len(w[j].s) })
	}
	byLen(c.suffix)
	byLen(c.prefix)
	return c
}

// compileRoute fails only when the match cannot be evaluated; actions and
// retry settings the model does not know become warnings.
func compileRoute(r *routev3.Route, vh *routev3.VirtualHost, warn func(string)) (*route, error) {
	m, err := compileMatch(r.GetMatch())
	if err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	cr := &route{name: r.GetName(), match: m}
	switch a := r.GetAction().(type) {
	case *routev3.Route_Route:
		ra := a.Route
		switch {
		case ra.GetCluster() != "":
			cr.cluster = ra.GetCluster()
		case ra.GetClusterHeader() != "":
			cr.clusterHeader = strings.ToLower(ra.GetClusterHeader())
		case ra.GetWeightedClusters() != nil:
			for _, wc := range ra.GetWeightedClusters().GetClusters() {
				w := uint64(wc.GetWeight().GetValue())
				cr.weighted = append(cr.weighted, weightedCluster{wc.GetName(), w})
				cr.totalWeight += w
			}
			if cr.totalWeight == 0 {
				cr.unmodelled = "route.weighted_clusters: total weight is 0"
			}
		default:
			cr.unmodelled = fmt.Sprintf("route: cluster specifier %T is not modelled", ra.GetClusterSpecifier())
		}
		cr.timeout = defaultRouteTimeout
		if ra.GetTimeout() != nil {
			cr.timeout = ra.GetTimeout().AsDuration()
		}
		rp := ra.GetRetryPolicy()
		if rp == nil {
			rp = vh.GetRetryPolicy()
		}
		if rp != nil {
			cr.retry, err = compileRetry(rp, func(msg string) { warn("route.retry_policy: " + msg) })
			if err != nil {
				return nil, err
			}
		}
	case *routev3.Route_DirectResponse:
		cr.direct = &directResponse{status: int(a.DirectResponse.GetStatus()), body: a.DirectResponse.GetBody().GetInlineString()}
	case *routev3.Route_Redirect:
		cr.direct = &directResponse{status: 301}
	default:
		cr.unmodelled = fmt.Sprintf("action %T is not modelled", r.GetAction())
	}
	if cr.unmodelled != "" {
		warn(cr.unmodelled + " (answered 503 route_not_modelled)")
	}
	return cr, nil
}

func compileMatch(m *routev3.RouteMatch) (*routeMatch, error) {
	rm := &routeMatch{caseSensitive: m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()}
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		rm.prefix = ps.Prefix
	case *routev3.RouteMatch_Path:
		rm.path = ps.Path
	case *routev3.RouteMatch_SafeRegex:
		re, err := fullRegex(ps.SafeRegex.GetRegex())
		if err != nil {
			return nil, err
		}
		rm.regex = re
	case *routev3.RouteMatch_PathSeparatedPrefix:
		rm.sepPrefix = ps.PathSeparatedPrefix
	case nil:
		rm.prefix = "/"
	default:
		return nil, fmt.Errorf("path specifier %T is not modelled", ps)
	}
	if !rm.caseSensitive {
		rm.prefix, rm.path, rm.sepPrefix = strings.ToLower(rm.prefix), strings.ToLower(rm.path), strings.ToLower(rm.sepPrefix)
	}
	for _, h := range m.GetHeaders() {
		hm, err := compileHeader(h)
		if err != nil {
			return nil, fmt.Errorf("headers[%s]: %w", h.GetName(), err)
		}
		rm.headers = append(rm.headers, hm)
	}
	for _, q := range m.GetQueryParameters() {
		qm := &queryMatcher{name: q.GetName(), present: q.GetPresentMatch()}
		if sm := q.GetStringMatch(); sm != nil {
			s, err := compileString(sm)
			if err != nil {
				return nil, fmt.Errorf("query_parameters[%s]: %w", q.GetName(), err)
			}
			qm.str = s
		}
		rm.query = append(rm.query, qm)
	}
	return rm, nil
}

func fullRegex(re string) (*regexp.Regexp, error) {
	r, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		return nil, fmt.Errorf("safe_regex %q: %w", re, err)
	}
	return r, nil
}

// stringMatcher is envoy.type.matcher.v3.StringMatcher.
type stringMatcher struct {
	exact      string // the value for every kind but regex
	kind       int    // 0 exact 1 prefix 2 suffix 3 contains 4 regex
	regex      *regexp.Regexp
	ignoreCase bool
}

func compileString(sm *matcherv3.StringMatcher) (*stringMatcher, error) {
	s := &stringMatcher{ignoreCase: sm.GetIgnoreCase()}
	switch p := sm.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		s.exact, s.kind = p.Exact, 0
	case *matcherv3.StringMatcher_Prefix:
		s.exact, s.kind = p.Prefix, 1
	case *matcherv3.StringMatcher_Suffix:
		s.exact, s.kind = p.Suffix, 2
	case *matcherv3.StringMatcher_Contains:
		s.exact, s.kind = p.Contains, 3
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := fullRegex(p.SafeRegex.GetRegex())
		if err != nil {
			return nil, err
		}
		s.regex, s.kind = re, 4
	default:
		return nil, fmt.Errorf("string matcher %T is not modelled", p)
	}
	if s.ignoreCase {
		s.exact = strings.ToLower(s.exact)
	}
	return s, nil
}

func (s *stringMatcher) match(v string) bool {
	if s.kind == 4 {
		return s.regex.MatchString(v)
	}
	if s.ignoreCase {
		v = strings.ToLower(v)
	}
	switch s.kind {
	case 0:
		return v == s.exact
	case 1:
		return strings.HasPrefix(v, s.exact)
	case 2:
		return strings.HasSuffix(v, s.exact)
	default:
		return strings.Contains(v, s.exact)
	}
}

// headerMatcher is Http::HeaderUtility::HeaderData.
type headerMatcher struct {
	name           string
	present        *bool
	str            *stringMatcher
	rangeLo, rngHi int64
	isRange        bool
	invert         bool
	missingIsEmpty bool
}

func compileHeader(h *routev3.HeaderMatcher) (*headerMatcher, error) {
	hm := &headerMatcher{name: strings.ToLower(h.GetName()), invert: h.GetInvertMatch(), missingIsEmpty: h.GetTreatMissingHeaderAsEmpty()}
	var err error
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_ExactMatch:
		hm.str = &stringMatcher{exact: s.ExactMatch}
	case *routev3.HeaderMatcher_PrefixMatch:
		hm.str = &stringMatcher{exact: s.PrefixMatch, kind: 1}
	case *routev3.HeaderMatcher_SuffixMatch:
		hm.str = &stringMatcher{exact: s.SuffixMatch, kind: 2}
	case *routev3.HeaderMatcher_ContainsMatch:
		hm.str = &stringMatcher{exact: s.ContainsMatch, kind: 3}
	case *routev3.HeaderMatcher_SafeRegexMatch:
		var re *regexp.Regexp
		re, err = fullRegex(s.SafeRegexMatch.GetRegex())
		hm.str = &stringMatcher{regex: re, kind: 4}
	case *routev3.HeaderMatcher_StringMatch:
		hm.str, err = compileString(s.StringMatch)
	case *routev3.HeaderMatcher_PresentMatch:
		v := s.PresentMatch
		hm.present = &v
	case *routev3.HeaderMatcher_RangeMatch:
		hm.isRange, hm.rangeLo, hm.rngHi = true, s.RangeMatch.GetStart(), s.RangeMatch.GetEnd()
	case nil:
		v := true
		hm.present = &v
	default:
		return nil, fmt.Errorf("header matcher %T is not modelled", s)
	}
	return hm, err
}

// headerValue joins repeated headers with "," as Envoy's getAllOfHeader.
func headerValue(h [][2]string, name string) (string, bool) {
	var vals []string
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			vals = append(vals, kv[1])
		}
	}
	if len(vals) == 0 {
		return "", false
	}
	return strings.Join(vals, ","), true
}

func (hm *headerMatcher) matches(h [][2]string) bool {
	v, ok := headerValue(h, hm.name)
	if !ok && hm.missingIsEmpty {
		v, ok = "", true
	}
	var m bool
	switch {
	case hm.present != nil:
		// present_match: false matches an absent header.
		return (ok == *hm.present) != hm.invert
	case !ok:
		return false // absent headers never match (invert included)
	case hm.isRange:
		n, err := strconv.ParseInt(v, 10, 64)
		m = err == nil && n >= hm.rangeLo && n < hm.rngHi
	default:
		m = hm.str.match(v)
	}
	return m != hm.invert
}

type queryMatcher struct {
	name    string
	present bool
	str     *stringMatcher
}

func (rm *routeMatch) matches(path string, h [][2]string) bool {
	p, query, _ := strings.Cut(path, "?")
	if i := strings.IndexByte(p, '#'); i >= 0 {
		p = p[:i]
	}
	cp := p
	if !rm.caseSensitive {
		cp = strings.ToLower(p)
	}
	switch {
	case rm.regex != nil:
		if !rm.regex.MatchString(p) {
			return false
		}
	case rm.path != "":
		if cp != rm.path {
			return false
		}
	case rm.sepPrefix != "":
		if !(cp == rm.sepPrefix || strings.HasPrefix(cp, rm.sepPrefix+"/")) {
			return false
		}
	default:
		if !strings.HasPrefix(cp, rm.prefix) {
			return false
		}
	}
	for _, hm := range rm.headers {
		if !hm.matches(h) {
			return false
		}
	}
	if len(rm.query) > 0 {
		qv, _ := url.ParseQuery(query)
		for _, q := range rm.query {
			vals, ok := qv[q.name]
			switch {
			case q.str != nil:
				if !ok || !q.str.match(vals[0]) {
					return false
				}
			case !ok:
				return false
			}
		}
	}
	return true
}

// virtualHost selects by :authority (lower-cased, port stripped as the HCM
// is configured): exact, then longest suffix wildcard, then longest prefix
// wildcard, then "*".
func (l *listenerRoutes) virtualHost(authority string) *virtualHost {
	host := strings.ToLower(authority)
	if l.stripAny || l.stripSame {
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
			if l.stripAny || host[i+1:] == strconv.Itoa(int(l.port)) {
				host = host[:i]
			}
		}
	}
	rc := l.rc
	if vh := rc.exact[host]; vh != nil {
		return vh
	}
	for _, w := range rc.suffix {
		if len(host) > len(w.s) && strings.HasSuffix(host, w.s) {
			return w.vh
		}
	}
	for _, w := range rc.prefix {
		if len(host) > len(w.s) && strings.HasPrefix(host, w.s) {
			return w.vh
		}
	}
	return rc.def
}

// match returns the first matching route.
func (l *listenerRoutes) match(h [][2]string) *route {
	if l == nil || l.rc == nil {
		return nil
	}
	auth, _ := headerValue(h, ":authority")
	vh := l.virtualHost(auth)
	if vh == nil {
		return nil
	}
	path, _ := headerValue(h, ":path")
	for _, r := range vh.routes {
		if r.match.matches(path, h) {
			return r
		}
	}
	return nil
}

// pickCluster resolves the route's cluster: weighted clusters draw
// random % total weight over the cumulative weights.
func (r *route) pickCluster(h [][2]string, draw uint64) string {
	switch {
	case r.cluster != "":
		return r.cluster
	case r.clusterHeader != "":
		v, _ := headerValue(h, r.clusterHeader)
		return v
	case len(r.weighted) > 0:
		v := draw % r.totalWeight
		var acc uint64
		for _, w := range r.weighted {
			acc += w.weight
			if v < acc {
				return w.name
			}
		}
	}
	return ""
}
