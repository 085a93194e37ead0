// Package xdsgen runs Istio's own xDS generation in-process.
package xdsgen

import (
	_ "istio.io/istio/pilot/test/xds"
)
