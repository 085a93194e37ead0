#!/usr/bin/env bash
# gen-intents.sh N DIR: writes N valid intents of 4 clusters each (two
# regions, the four failover modes in turn, every other one with two
# subsets) as DIR/intent-NNNNN.yaml, for the side-by-side figures in
# BENCHMARKS.md ("Compile and vet at scale").
set -euo pipefail
n=$1 dir=$2
mkdir -p "$dir"
modes=(auto named weighted activeStandby)
for ((i = 0; i < n; i++)); do
  mode=${modes[i % 4]}
  w=("" "" "" "")
  case $mode in
    weighted) w=(", weight: 40" ", weight: 30" ", weight: 20" ", weight: 10") ;;
    activeStandby) w=(", weight: 100" ", weight: 0" ", weight: 0" ", weight: 0") ;;
  esac
  {
    printf 'apiVersion: detour.dev/v1alpha1\nkind: FailoverIntent\nmetadata: {name: svc-%d, namespace: team-%d}\n' "$i" $((i % 50))
    printf 'spec:\n  service: {port: 8080}\n  clusters:\n'
    c=0
    for loc in us-east1:us-east1-b us-east1:us-east1-c eu-west1:eu-west1-a eu-west1:eu-west1-b; do
      printf '    - {name: c%d, region: %s, zone: %s, network: n%d, eastWestGateway: {address: 10.%d.0.1}, capacity: 900, load: 300, endpoints: 3%s}\n' \
        $c "${loc%%:*}" "${loc##*:}" $c $c "${w[c]}"
      c=$((c + 1))
    done
    printf '  failover: {mode: %s' "$mode"
    [[ $mode == named ]] && printf ', order: [c3, c2, c0, c1]'
    printf '}\n'
    ((i % 2 == 0)) && printf '  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n'
    printf '  exposure: {selector: {app: svc-%d}, mtls: ISTIO_MUTUAL}\n' "$i"
  } > "$(printf '%s/intent-%05d.yaml' "$dir" "$i")"
done
