package events

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Message is one output of an event.
type Message struct {
	// Subject is the sink's subject for emit ("" in NDJSON mode), the
	// module's for emit_to.
	Subject string
	Data    []byte
}

// KV is the key-value store behind kv_get and kv_put (a JetStream
// key-value bucket in production). Keys arrive prefixed.
type KV interface {
	// Get returns the value of key, ok false when it has none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Put stores value under key.
	Put(ctx context.Context, key string, value []byte) error
}

// eventState is what the host functions of one instance see: the current
// event's outputs and budgets. It is HostCall.Data.
type eventState struct {
	p        *Processor
	outputs  []Message
	emitted  uint64 // payload bytes emitted by this event
	kvBytes  uint64 // key and value bytes this event read and wrote
	puts     map[string][]byte
	putOrder []string
	hostErr  error // a failure of the KV: the event is retried, not dead-lettered
	ctx      context.Context
}

func (s *eventState) reset(ctx context.Context) {
	s.outputs = s.outputs[:0]
	s.emitted, s.kvBytes = 0, 0
	clear(s.puts)
	s.putOrder = s.putOrder[:0]
	s.hostErr = nil
	s.ctx = ctx
}

// hostFunctions are the wasmward imports of the event ABI.
func hostFunctions() []sandbox.HostFunction {
	kvGrant := func(p policy.Policy) error {
		if p.Events.KV == nil {
			return errors.New("the policy grants no key-value store (events.kv)")
		}
		return nil
	}
	return []sandbox.HostFunction{
		{Name: ImportEmit, Params: []api.ValueType{i32, i32}, Fn: hostEmit},
		{Name: ImportEmitTo, Params: []api.ValueType{i32, i32, i32, i32}, Fn: hostEmitTo},
		{Name: ImportKVGet, Params: []api.ValueType{i32, i32, i32, i32}, Results: []api.ValueType{i32}, Fn: hostKVGet, Grant: kvGrant},
		{Name: ImportKVPut, Params: []api.ValueType{i32, i32, i32, i32}, Results: []api.ValueType{i32}, Fn: hostKVPut, Grant: kvGrant},
	}
}

// HostFunctions returns the sandbox configuration of the event ABI's
// imports, for a runtime that runs event processors.
func HostFunctions(c sandbox.Config) sandbox.Config {
	return c.WithHostFunctions(hostFunctions()...)
}

func stateOf(c sandbox.HostCall) *eventState {
	s, ok := c.Data().(*eventState)
	if !ok {
		c.Stop(sandbox.KindInvalidModule, "event import called outside an event processor")
	}
	return s
}

func hostEmit(_ context.Context, c sandbox.HostCall, stack []uint64) {
	s := stateOf(c)
	s.emit(c, "", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
}

func hostEmitTo(_ context.Context, c sandbox.HostCall, stack []uint64) {
	s := stateOf(c)
	sp, sl := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if sl > 256 {
		c.Stop(sandbox.KindCapabilityDenied, fmt.Sprintf("emit_to: subject of %d bytes, above 256", sl))
	}
	subj := string(c.View("emit_to subject", sp, sl))
	if !s.p.subjectAllowed(subj) {
		c.Stop(sandbox.KindCapabilityDenied, fmt.Sprintf("emit_to: subject %q is not allowed by the policy's events.subjects", subj))
	}
	s.emit(c, subj, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
}

func (s *eventState) emit(c sandbox.HostCall, subject string, ptr, n uint32) {
	ev := s.p.pol.Events
	if len(s.outputs) >= int(ev.Emits) {
		c.Stop(sandbox.KindOutputLimit, fmt.Sprintf("emit: more than %d messages for one event", ev.Emits))
	}
	if s.emitted+uint64(n) > uint64(ev.EmitBytes) {
		c.Stop(sandbox.KindOutputLimit, fmt.Sprintf("emit: more than %s for one event", ev.EmitBytes))
	}
	c.Charge(uint64(n) >> 4)
	s.emitted += uint64(n)
	s.outputs = append(s.outputs, Message{Subject: subject, Data: c.Read("emit", ptr, n)})
}

// maxKVKey bounds a key's bytes (before the prefix), as 256 bounds an
// emit_to subject.
const maxKVKey = 256

// kvKeyRe is what a JetStream key-value key may hold.
var kvKeyRe = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// kvKey reads the guest's key and returns it under the module's prefix,
// charging its bytes to the event's budget.
func (s *eventState) kvKey(c sandbox.HostCall, fn string, ptr, n uint32) string {
	if n > maxKVKey {
		// A longer key would make the key-value store's request fail
		// (the server's control line bound), a host failure for what is
		// the guest's doing.
		c.Stop(sandbox.KindCapabilityDenied, fmt.Sprintf("%s: key of %d bytes, above %d", fn, n, maxKVKey))
	}
	s.kvCharge(c, fn, uint64(n))
	k := string(c.View(fn+" key", ptr, n))
	if !kvKeyRe.MatchString(k) {
		c.Stop(sandbox.KindCapabilityDenied, fmt.Sprintf("%s: key %q is not a key (dot-separated tokens of letters, digits and -/_=)", fn, k))
	}
	return s.p.kvPrefix + "." + k
}

func (s *eventState) kvCharge(c sandbox.HostCall, fn string, n uint64) {
	limit := s.p.pol.Events.KV.KVBytes()
	if s.kvBytes+n > limit {
		c.Stop(sandbox.KindOutputLimit, fmt.Sprintf("%s: more than %s of keys and values for one event", fn, policy.Size(limit)))
	}
	s.kvBytes += n
	c.Charge(64 + n>>4)
}

func hostKVGet(_ context.Context, c sandbox.HostCall, stack []uint64) {
	s := stateOf(c)
	key := s.kvKey(c, "kv_get", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	bp, bl := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	v, ok := s.puts[key]
	if !ok {
		if s.p.kv == nil {
			c.Stop(sandbox.KindCapabilityDenied, "kv_get: no key-value store is configured")
		}
		var err error
		v, ok, err = s.p.kv.Get(s.ctx, key)
		if err != nil {
			s.hostErr = fmt.Errorf("kv_get %s: %w", key, err)
			c.Stop(kindHost, s.hostErr.Error())
		}
	} else if v == nil {
		ok = false
	}
	if !ok {
		stack[0] = api.EncodeI32(-1)
		return
	}
	s.kvCharge(c, "kv_get", uint64(len(v)))
	n := min(uint32(len(v)), bl)
	if !c.Memory().Write(bp, v[:n]) {
		panic(fmt.Errorf("kv_get: out of bounds memory access (%d bytes at %d)", n, bp))
	}
	stack[0] = api.EncodeI32(int32(len(v)))
}

func hostKVPut(_ context.Context, c sandbox.HostCall, stack []uint64) {
	s := stateOf(c)
	key := s.kvKey(c, "kv_put", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	vl := api.DecodeU32(stack[3])
	s.kvCharge(c, "kv_put", uint64(vl))
	v := c.Read("kv_put value", api.DecodeU32(stack[2]), vl)
	if v == nil {
		v = []byte{} // an empty value, not a missing one
	}
	if s.puts == nil {
		s.puts = map[string][]byte{}
	}
	if _, seen := s.puts[key]; !seen {
		s.putOrder = append(s.putOrder, key)
	}
	s.puts[key] = v
	stack[0] = 0
}

// kindHost marks a call stopped because the host failed (the KV), not
// the guest: the event is retried.
const kindHost sandbox.Kind = "host_error"
