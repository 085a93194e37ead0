#!/usr/bin/env bash
# gen-stream.sh DIR COPIES: prints the intents of DIR (scripts/gen-intents.sh)
# as one YAML stream of "---" documents, COPIES times, each copy's names
# suffixed with -K so that every intent is distinct (10,000 intents x 6 =
# the 60,000-intent, 53 MB stream of BENCHMARKS.md).
set -euo pipefail
dir=$1 copies=$2
for ((k = 0; k < copies; k++)); do
  awk -v k="$k" 'FNR == 1 { print "---" } { sub(/name: svc-[0-9]+/, "&-" k); print }' "$dir"/*.yaml
done
