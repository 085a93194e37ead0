// Package timelinetest renders timeline SVGs in a real browser (Debian's
// chromium, headless) and counts the series' colours in the picture, so
// that tests check what a reviewer sees, not only the markup.
package timelinetest

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/detour-mesh/detour/harness/timeline"
)

// Window is the browser viewport; the timeline is 960 px wide.
const Window = "1200,800"

// Screenshot renders svg in headless chromium with the light or the dark
// colour scheme and returns the picture. A missing chromium fails the
// test (never skips): `make deps` installs it.
func Screenshot(t testing.TB, svg []byte, dark bool) image.Image {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found on PATH (%v): run `make deps`, which installs Debian's chromium", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "timeline.svg")
	shot := filepath.Join(dir, "shot.png")
	if err := os.WriteFile(file, svg, 0o644); err != nil {
		t.Fatal(err)
	}
	// Blink's PreferredColorScheme enum: 0 is dark, 1 is light; it drives
	// the SVG's prefers-color-scheme media query.
	scheme := 1
	if dark {
		scheme = 0
	}
	// The timeout only guards against a hung browser; nothing is measured.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--force-color-profile=srgb",
		"--user-data-dir="+filepath.Join(dir, "profile"),
		"--blink-settings=preferredColorScheme="+strconv.Itoa(scheme),
		"--screenshot="+shot, "--window-size="+Window,
		"file://"+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, out)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// Pixels counts the pixels of img painted in each colour the timeline
// uses in the theme: key "series:NAME" per series of p, "errors",
// "background", and "palette:I" for every palette colour (used or not).
// A colour matches within 2 per channel (PNG encoding is lossless, but
// leave room for colour conversion).
func Pixels(img image.Image, p timeline.Plot, dark bool) map[string]int {
	pick := func(c struct{ Light, Dark string }) string {
		if dark {
			return c.Dark
		}
		return c.Light
	}
	want := map[string][3]int{
		"errors":     hex(pick(timeline.ErrorColor)),
		"background": hex(pick(timeline.Background)),
	}
	for i, c := range timeline.Palette {
		want["palette:"+strconv.Itoa(i)] = hex(pick(c))
	}
	for name, i := range p.Colors() {
		if i < 0 {
			want["series:"+name] = hex(pick(timeline.MutedColor))
		} else {
			want["series:"+name] = hex(pick(timeline.Palette[i]))
		}
	}
	got := map[string]int{}
	for k := range want {
		got[k] = 0
	}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			px := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
			for k, c := range want {
				if near(px, c) {
					got[k]++
				}
			}
		}
	}
	return got
}

func near(a, b [3]int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > 2 || d < -2 {
			return false
		}
	}
	return true
}

// hex parses "#rrggbb".
func hex(s string) [3]int {
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil || len(s) != 7 {
		panic("timelinetest: bad colour " + s)
	}
	return [3]int{int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)}
}
