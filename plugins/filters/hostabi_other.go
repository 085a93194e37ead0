//go:build !wasm

package main

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
)

// Outside Wasm (vet, staticcheck, the SDK's mock host) the reads go
// through the SDK.

func headerMapPairs(mapType uint32) ([]byte, error) {
	get := proxywasm.GetHttpRequestHeaders
	if mapType == 2 {
		get = proxywasm.GetHttpResponseHeaders
	}
	hs, err := get()
	if err != nil {
		return nil, err
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(hs)))
	for _, kv := range hs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range hs {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b, nil
}

func property(path []byte) ([]byte, error) {
	return proxywasm.GetProperty(strings.Split(string(path), "\x00"))
}

func getSharedData(key string) ([]byte, uint32, error) { return proxywasm.GetSharedData(key) }

// No scratch block outside Wasm (scratch.go).
func enter() {}
func leave() {}

func wallClockNs() int64 { return time.Now().UnixNano() }
