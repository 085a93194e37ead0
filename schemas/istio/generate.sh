#!/bin/sh
# Regenerates the Istio CRD definitions (networking, extensions, security)
# with `cue get crd` from the CRD bundle of the istio.io/api version pinned
# in go.mod. `make schemas` runs it; TestIstioDefinitionsUpToDate fails when
# the committed files drift from what it produces.
#
# usage: generate.sh [OUTDIR]   (default: this directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
cd "$here"
crd="$(go list -m -f '{{.Dir}}' istio.io/api)/kubernetes/customresourcedefinitions.gen.yaml"
cue=$(go tool -n cue)
mkdir -p "$out"
for g in networking extensions security; do
	tmp=$(mktemp -d "$out/.$g.XXXXXX")
	chmod 755 "$tmp"
	(cd "$tmp" && "$cue" get crd --group "$g.istio.io" "$crd" >/dev/null)
	rm -rf "${out:?}/$g"
	mv "$tmp" "$out/$g"
done
