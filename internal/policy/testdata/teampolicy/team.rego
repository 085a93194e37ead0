# A team's own policy next to Detour's: one extra rule, one exception.
package main

deny_missing_owner contains msg if {
	input.kind == "WasmPlugin"
	not input.metadata.labels.owner
	msg := sprintf("WasmPlugin %s has no owner label", [input.metadata.name])
}

exception contains rules if {
	input.kind == "WasmPlugin"
	input.metadata.name == "detour-router"
	rules := ["wasm_unpinned"]
}
