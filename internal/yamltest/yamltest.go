// Package yamltest holds what the fuzz targets of YAML readers share.
package yamltest

// LastLine is the number of the last line of b as a YAML parser counts
// them (\n, \r\n and a lone \r each end a line; yaml.v3 also breaks on
// NEL, LS and PS): an upper bound for any position inside b.
func LastLine(b []byte) int {
	n := 1
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\n':
			n++
		case b[i] == '\r':
			n++
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
		case b[i] == 0xC2 && i+1 < len(b) && b[i+1] == 0x85, // NEL
			b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9): // LS, PS
			n++
		}
	}
	return n
}
