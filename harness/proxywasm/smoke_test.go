package proxywasm

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/detour-mesh/detour/harness/plugintest"
)

type nopCallbacks struct{ events []string }

func (n *nopCallbacks) ContinueStream(t StreamType) { n.events = append(n.events, "continue") }
func (n *nopCallbacks) SendLocalReply(l LocalReply) { n.events = append(n.events, "local") }
func (n *nopCallbacks) ResetStream(string)          { n.events = append(n.events, "reset") }
func (n *nopCallbacks) ClearRouteCache()            { n.events = append(n.events, "clear") }

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	e, err := NewEngine(ctx, EngineConfig{})
	require.NoError(t, err)
	m, err := e.Compile(ctx, plugintest.MustRead("conformance"))
	require.NoError(t, err)
	p := NewProcess(nil)
	vm, err := p.NewVM(ctx, e, m, VMConfig{VMID: "vm"})
	require.NoError(t, err)
	r, err := vm.StartPlugin(PluginConfig{Name: "p", RootID: "r", Configuration: []byte("hello")})
	require.NoError(t, err)
	cb := &nopCallbacks{}
	s := r.NewHTTPContext(cb, nil, FailClosed)
	h := NewHeaders([][2]string{{":path", "/"}})
	st := s.OnRequestHeaders(h, true)
	t.Log(st, h.Pairs(), cb.events, p.Logs(), p.Traps())
}
