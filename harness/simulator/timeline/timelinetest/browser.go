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
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/detour-mesh/detour/harness/simulator/timeline"
)

// Window is the browser viewport's least size; the timeline is 960 px
// wide. A taller picture gets a taller window, so that every panel is in
// the screenshot.
const Window = "1200,800"

// window is Window, or taller to hold svg's height attribute.
func window(svg []byte) string {
	h := 800
	if m := svgHeight.FindSubmatch(svg); m != nil {
		if v, err := strconv.ParseFloat(string(m[1]), 64); err == nil && int(v)+40 > h {
			h = int(v) + 40
		}
	}
	return "1200," + strconv.Itoa(h)
}

var svgHeight = regexp.MustCompile(`<svg [^>]*height="([0-9.]+)"`)

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
		"--screenshot="+shot, "--window-size="+window(svg),
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
// "background", the latency strip's (timeline.LatencyP50Key, LatencyP99Key)
// and "palette:I" for every palette colour (used or not).
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
		"errors":               hex(pick(timeline.ErrorColor)),
		"background":           hex(pick(timeline.Background)),
		timeline.LatencyP50Key: hex(pick(timeline.LatencyP50Color)),
		timeline.LatencyP99Key: hex(pick(timeline.LatencyP99Color)),
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

// Thresholds of Check, in pixels. A legend swatch is 12×12 = 144 px, so a
// colour counts as drawn in a chart only well above that; a series is
// expected in the picture when its computed area is twice that (gridlines
// and marker lines cover a few per cent of it).
const (
	DrawnPixels    = 1000
	ExpectedPixels = 2 * DrawnPixels
	AbsentPixels   = 50
)

// Check renders svg (Render's output for p) in chromium in the light and
// the dark theme and asserts what a reviewer would see: the theme's
// background; every series whose area (Plot.Areas) is large enough, and
// the errors bars and the latency strip's p50 and p99 when they are,
// painted in their colour; no palette
// colour that p does not use. It returns the number of series seen per
// theme ("light", "dark").
func Check(t testing.TB, svg []byte, p timeline.Plot) map[string]int {
	t.Helper()
	areas := p.Areas()
	if areas == nil {
		t.Fatalf("timelinetest: the plot does not render (run timeline.Render for the error)")
	}
	used := map[string]bool{}
	for _, i := range p.Colors() {
		if i >= 0 {
			used["palette:"+strconv.Itoa(i)] = true
		}
	}
	seen := map[string]int{}
	for _, dark := range []bool{false, true} {
		theme := map[bool]string{false: "light", true: "dark"}[dark]
		img := Screenshot(t, svg, dark)
		px := Pixels(img, p, dark)
		b := img.Bounds()
		if px["background"] < b.Dx()*b.Dy()/10 {
			t.Errorf("%s: %d px of the theme's background, want most of the picture", theme, px["background"])
		}
		for _, k := range []string{timeline.LatencyP50Key, timeline.LatencyP99Key} {
			if areas[k] >= ExpectedPixels && px[k] <= DrawnPixels {
				t.Errorf("%s: the latency strip's%s covers %.0f px², but %d px of its colour are in the picture", theme, k, areas[k], px[k])
			}
		}
		for name, area := range areas {
			if name == "" || name == timeline.LatencyP50Key || name == timeline.LatencyP99Key {
				continue
			}
			got := px["series:"+name]
			if got > DrawnPixels {
				seen[theme]++
			}
			if area >= ExpectedPixels && got <= DrawnPixels {
				t.Errorf("%s: series %q covers %.0f px², but %d px of its colour are in the picture", theme, name, area, got)
			}
		}
		if areas[""] >= ExpectedPixels && px["errors"] <= DrawnPixels {
			t.Errorf("%s: the errors bars cover %.0f px², but %d px of their colour are in the picture", theme, areas[""], px["errors"])
		}
		for i := range timeline.Palette {
			k := "palette:" + strconv.Itoa(i)
			if !used[k] && px[k] >= AbsentPixels {
				t.Errorf("%s: %d px of palette colour %d, which no series uses", theme, px[k], i)
			}
		}
	}
	return seen
}
