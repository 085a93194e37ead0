package xdsgen

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels Istio reads from Kubernetes objects.
const (
	labelRegion      = "topology.kubernetes.io/region"
	labelZone        = "topology.kubernetes.io/zone"
	labelSubzone     = "topology.istio.io/subzone"
	labelNetwork     = "topology.istio.io/network"
	labelServiceName = "kubernetes.io/service-name"
	labelTLSMode     = "security.istio.io/tlsMode"
	systemNamespace  = "istio-system"
)

// kubeObjects synthesises what Istio's Kubernetes registry reads for one
// cluster: Namespaces (istio-system carries the cluster's network, as in
// a multi-network install), one Node per locality (region, zone and
// subzone labels: Istio takes a pod's locality from its node), and per
// Service the Service, its Pods (Ready, with podIP) and one
// discovery.k8s.io/v1 EndpointSlice. Istio builds a Kubernetes service's
// endpoints from EndpointSlices only; without one, the local endpoints
// are silently missing.
func kubeObjects(c Cluster) ([]runtime.Object, error) {
	var objs []runtime.Object
	namespaces := map[string]bool{systemNamespace: true}
	nodes := map[string]*corev1.Node{}
	nodeFor := func(region, zone, subzone string) string {
		name := "node"
		if l := dnsLabel(strings.Join([]string{region, zone, subzone}, "-")); l != "" {
			name += "-" + l
		}
		if _, ok := nodes[name]; !ok {
			labels := map[string]string{}
			if region != "" {
				labels[labelRegion] = region
			}
			if zone != "" {
				labels[labelZone] = zone
			}
			if subzone != "" {
				labels[labelSubzone] = subzone
			}
			nodes[name] = &corev1.Node{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			}
		}
		return name
	}
	seen := map[string]bool{}
	for si, s := range c.Services {
		where := fmt.Sprintf("cluster %s: services[%d]", c.ID, si)
		if s.Name == "" {
			return nil, fmt.Errorf("%s: name is empty", where)
		}
		ns := s.Namespace
		if ns == "" {
			ns = "default"
		}
		if seen[ns+"/"+s.Name] {
			return nil, fmt.Errorf("%s: service %s/%s is listed twice", where, ns, s.Name)
		}
		seen[ns+"/"+s.Name] = true
		namespaces[ns] = true
		if len(s.Ports) == 0 {
			return nil, fmt.Errorf("%s (%s/%s): ports: at least one port is needed", where, ns, s.Name)
		}
		selector := map[string]string{"app": s.Name}
		svc := &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: s.Labels},
			Spec: corev1.ServiceSpec{
				Type:      corev1.ServiceTypeClusterIP,
				ClusterIP: serviceIP(c.ID, ns, s.Name),
				Selector:  selector,
			},
		}
		slice := &discoveryv1.EndpointSlice{
			TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
			ObjectMeta: metav1.ObjectMeta{
				Name: s.Name + "-slice", Namespace: ns,
				Labels: map[string]string{labelServiceName: s.Name},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		for pi, p := range s.Ports {
			if p.Name == "" || p.Port == 0 {
				return nil, fmt.Errorf("%s (%s/%s): ports[%d]: want a name and a port number", where, ns, s.Name, pi)
			}
			target := p.TargetPort
			if target == 0 {
				target = p.Port
			}
			sp := corev1.ServicePort{
				Name: p.Name, Port: int32(p.Port), Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(target)),
			}
			ep := discoveryv1.EndpointPort{Name: ptr(p.Name), Port: ptr(int32(target)), Protocol: ptr(corev1.ProtocolTCP)}
			if p.AppProtocol != "" {
				sp.AppProtocol = ptr(p.AppProtocol)
				ep.AppProtocol = ptr(p.AppProtocol)
			}
			svc.Spec.Ports = append(svc.Spec.Ports, sp)
			slice.Ports = append(slice.Ports, ep)
		}
		objs = append(objs, svc)
		for ei, e := range s.Endpoints {
			addr, err := netip.ParseAddr(e.IP)
			if err != nil || !addr.Is4() {
				return nil, fmt.Errorf("%s (%s/%s): endpoints[%d]: ip %q: want an IPv4 address", where, ns, s.Name, ei, e.IP)
			}
			region, zone, subzone := or(e.Region, c.Region), or(e.Zone, c.Zone), or(e.Subzone, c.Subzone)
			node := nodeFor(region, zone, subzone)
			name := e.Name
			if name == "" {
				name = s.Name + "-" + strings.ReplaceAll(e.IP, ".", "-")
			}
			labels := map[string]string{"app": s.Name, labelTLSMode: "istio"}
			if c.Network != "" {
				labels[labelNetwork] = c.Network
			}
			for k, v := range e.Labels {
				labels[k] = v
			}
			ready := corev1.ConditionTrue
			if e.NotReady {
				ready = corev1.ConditionFalse
			}
			objs = append(objs, &corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
				Spec:       corev1.PodSpec{NodeName: node, ServiceAccountName: "default"},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					PodIP:      e.IP,
					PodIPs:     []corev1.PodIP{{IP: e.IP}},
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}},
				},
			})
			se := discoveryv1.Endpoint{
				Addresses:  []string{e.IP},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr(!e.NotReady)},
				NodeName:   ptr(node),
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: name, Namespace: ns},
			}
			if zone != "" {
				se.Zone = ptr(zone)
			}
			slice.Endpoints = append(slice.Endpoints, se)
		}
		objs = append(objs, slice)
	}
	nsNames := make([]string, 0, len(namespaces))
	for n := range namespaces {
		nsNames = append(nsNames, n)
	}
	sort.Strings(nsNames)
	for _, n := range nsNames {
		meta := metav1.ObjectMeta{Name: n}
		if n == systemNamespace && c.Network != "" {
			meta.Labels = map[string]string{labelNetwork: c.Network}
		}
		objs = append(objs, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: meta})
	}
	nodeNames := make([]string, 0, len(nodes))
	for n := range nodes {
		nodeNames = append(nodeNames, n)
	}
	sort.Strings(nodeNames)
	for _, n := range nodeNames {
		objs = append(objs, nodes[n])
	}
	return objs, nil
}

// serviceIP gives each Service a stable cluster IP in 10.96.0.0/12 (the
// Kubernetes default range), derived from its name so that reruns agree.
func serviceIP(clusterID, ns, name string) string {
	h := uint32(2166136261)
	for _, b := range []byte(clusterID + "/" + ns + "/" + name) {
		h = (h ^ uint32(b)) * 16777619
	}
	h &= 0x000fffff // 20 bits
	if h == 0 {
		h = 1
	}
	return fmt.Sprintf("10.%d.%d.%d", 96+(h>>16), (h>>8)&0xff, h&0xff)
}

func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func ptr[T any](v T) *T { return &v }
