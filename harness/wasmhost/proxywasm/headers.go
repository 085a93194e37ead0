package proxywasm

import "strings"

// Headers is an ordered header map with Envoy's semantics: keys are
// lower-cased on every write, Get returns the first value only, Add appends
// a new entry, Set replaces every value (adding if absent).
type Headers struct {
	pairs [][2]string
}

// NewHeaders copies pairs, lower-casing keys.
func NewHeaders(pairs [][2]string) *Headers {
	h := &Headers{pairs: make([][2]string, 0, len(pairs))}
	for _, p := range pairs {
		h.Add(p[0], p[1])
	}
	return h
}

// Pairs returns a copy of the entries in order.
func (h *Headers) Pairs() [][2]string {
	if h == nil {
		return nil
	}
	out := make([][2]string, len(h.pairs))
	copy(out, h.pairs)
	return out
}

// Len is the number of entries (what Envoy passes as num_headers).
func (h *Headers) Len() int {
	if h == nil {
		return 0
	}
	return len(h.pairs)
}

// ByteSize is Envoy's HeaderMap::byteSize: the sum of key and value sizes.
func (h *Headers) ByteSize() int {
	n := 0
	for _, p := range h.pairs {
		n += len(p[0]) + len(p[1])
	}
	return n
}

// Get returns the first value of key.
func (h *Headers) Get(key string) (string, bool) {
	if h == nil {
		return "", false
	}
	key = strings.ToLower(key)
	for _, p := range h.pairs {
		if p[0] == key {
			return p[1], true
		}
	}
	return "", false
}

// Values returns every value of key.
func (h *Headers) Values(key string) []string {
	key = strings.ToLower(key)
	var out []string
	for _, p := range h.pairs {
		if p[0] == key {
			out = append(out, p[1])
		}
	}
	return out
}

// Add appends an entry. As in Envoy's header map, a pseudo-header (":status")
// goes after the other pseudo-headers but before every regular header.
func (h *Headers) Add(key, value string) {
	h.insert([2]string{strings.ToLower(key), value})
}

func (h *Headers) insert(p [2]string) {
	if !strings.HasPrefix(p[0], ":") {
		h.pairs = append(h.pairs, p)
		return
	}
	i := 0
	for i < len(h.pairs) && strings.HasPrefix(h.pairs[i][0], ":") {
		i++
	}
	h.pairs = append(h.pairs, [2]string{})
	copy(h.pairs[i+1:], h.pairs[i:])
	h.pairs[i] = p
}

// Set replaces every value of key with one entry at the first position, or
// appends it.
func (h *Headers) Set(key, value string) {
	key = strings.ToLower(key)
	out := h.pairs[:0]
	found := false
	for _, p := range h.pairs {
		if p[0] == key {
			if found {
				continue
			}
			found = true
			p[1] = value
		}
		out = append(out, p)
	}
	h.pairs = out
	if !found {
		h.insert([2]string{key, value})
	}
}

// Remove deletes every value of key.
func (h *Headers) Remove(key string) {
	key = strings.ToLower(key)
	out := h.pairs[:0]
	for _, p := range h.pairs {
		if p[0] != key {
			out = append(out, p)
		}
	}
	h.pairs = out
}

// Replace sets the whole map (set_header_map_pairs: remove all, then add).
func (h *Headers) Replace(pairs [][2]string) {
	h.pairs = h.pairs[:0]
	for _, p := range pairs {
		h.Add(p[0], p[1])
	}
}

// Clone copies the map.
func (h *Headers) Clone() *Headers {
	if h == nil {
		return nil
	}
	return &Headers{pairs: h.Pairs()}
}
