package yamltest

import "testing"

func TestLastLine(t *testing.T) {
	for in, want := range map[string]int{
		"": 1, "a": 1, "a\n": 2, "a\r\nb": 2, "a\rb\r": 3, "a\u0085b": 2, "a\u2028b\u2029c": 3, "\n\n": 3,
	} {
		if got := LastLine([]byte(in)); got != want {
			t.Errorf("LastLine(%q) = %d, want %d", in, got, want)
		}
	}
}
