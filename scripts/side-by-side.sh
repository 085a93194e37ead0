#!/usr/bin/env bash
# side-by-side.sh DIR ROUNDS BIN...: paired, interleaved whole-process runs
# of detour compile/vet (each BIN: a detour binary) and the stock cue CLI
# (CUE=path to a cue binary of the version go.mod pins:
# `go build -o /tmp/cue cuelang.org/go/cmd/cue`) on the intents in DIR
# (scripts/gen-intents.sh). Run from the repository root (cue.mod). Prints
# one line per run: tool, wall seconds, CPU seconds (user + system), peak
# RSS KiB (/usr/bin/time -v). On a shared machine compare the ratios of
# neighbouring runs, and the CPU time.
set -euo pipefail
dir=$1 rounds=$2
shift 2
cue=${CUE:-cue}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() { # name command...
  local name=$1
  shift
  /usr/bin/time -v "$@" >/dev/null 2>"$out/time" || { tail -5 "$out/time"; exit 1; }
  printf '%-28s %8s s wall %8s s cpu %8s KiB\n' "$name" \
    "$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$out/time")" \
    "$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$out/time")" \
    "$(awk -F': ' '/Maximum resident/ {print $2}' "$out/time")"
}
for ((r = 1; r <= rounds; r++)); do
  measure "cue export" "$cue" export -d '#Intent' detour.dev/schemas/detour "$dir"/*.yaml --out yaml
  for bin in "$@"; do
    measure "$(basename "$bin") compile" "$bin" compile -o "$out/o" "$dir"
  done
  measure "cue vet" "$cue" vet -c -d '#Intent' detour.dev/schemas/detour "$dir"/*.yaml
  for bin in "$@"; do
    measure "$(basename "$bin") vet" "$bin" vet "$dir"
  done
done
