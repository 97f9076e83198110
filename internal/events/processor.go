package events

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// Processor runs events through one module: it keeps one instance across
// events (so the module's counters live as long as the instance), bounds
// each event by the policy's fuel and timeout and by events.emit_bytes and
// events.emits, and replaces the instance after a failed event, after
// events.recycle_after events and when events.instance_fuel is spent. A
// Processor is not safe for concurrent use.
type Processor struct {
	mod      *sandbox.Module
	pol      policy.Policy
	name     string
	kv       KV
	kvPrefix string

	inst     *sandbox.Instance
	st       *eventState
	events   uint64 // events processed by inst
	fuel     uint64 // fuel inst consumed
	replaced uint64 // instances replaced

	allocCall, procCall sandbox.Call
	params              [2]uint64
	rep                 sandbox.CallReport
}

// Result is what one event did.
type Result struct {
	// Outputs are the messages the event emitted; empty when it failed.
	// Valid until the next Process.
	Outputs []Message
	// Reason is why the event goes to the dead-letter sink ("" when it
	// succeeded): "trap: ...", "violation fuel_exhausted: ...",
	// "rejected: process_event returned 3".
	Reason string
	// FuelUsed is the fuel the event consumed (alloc and process_event).
	FuelUsed uint64
	// Duration is the event's wall-clock time in the guest and the host
	// functions, instance creation excluded.
	Duration time.Duration
}

// NewProcessor checks that mod (compiled from bin by a runtime configured
// with HostFunctions) exports the event ABI and returns a processor. name
// is the module's name (its file name): the default key prefix of kv_get and
// kv_put. kv may be nil when the policy grants no key-value store.
func NewProcessor(bin []byte, mod *sandbox.Module, name string, kv KV) (*Processor, error) {
	if err := CheckABI(bin); err != nil {
		return nil, err
	}
	pol := mod.Policy()
	p := &Processor{mod: mod, pol: pol, name: name, kv: kv}
	if g := pol.Events.KV; g != nil {
		p.kvPrefix = g.Prefix
		if p.kvPrefix == "" {
			p.kvPrefix = keyToken(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)))
		}
		if kv == nil {
			return nil, errors.New("the policy grants a key-value store (events.kv) but none is configured")
		}
	}
	p.st = &eventState{p: p}
	p.allocCall.Function = ExportAlloc
	p.procCall.Function = ExportProcess
	return p, nil
}

// keyToken makes a module file name a key token: characters a key may not
// hold become '_'.
func keyToken(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '-' || c == '_' || c == '=' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "module"
	}
	return string(b)
}

// Replaced returns how many instances were replaced (after a failure, a
// recycle or an exhausted instance budget).
func (p *Processor) Replaced() uint64 { return p.replaced }

// subjectAllowed reports whether emit_to may name subj: a subject the
// policy's events.subjects match. A subject in the server's own
// namespaces ("$JS.API...", "$KV.BUCKET.KEY", "$SYS...", "_INBOX...": a
// first token starting with "$" or equal to "_INBOX") is matched only by
// a pattern that spells that first token out: a wildcard pattern such as
// ">" or "*.>" grants application subjects, not JetStream's API (deleting
// streams), other modules' key-value keys (past the kv prefix) or other
// clients' replies.
func (p *Processor) subjectAllowed(subj string) bool {
	if policy.CheckSubject(subj, false) != nil {
		return false
	}
	first, _, _ := strings.Cut(subj, ".")
	reserved := strings.HasPrefix(first, "$") || first == "_INBOX"
	for _, pat := range p.pol.Events.Subjects {
		if pfirst, _, _ := strings.Cut(pat, "."); reserved && pfirst != first {
			continue
		}
		if policy.MatchSubject(pat, subj) {
			return true
		}
	}
	return false
}

// instance returns the live instance, creating it (and calling init) when
// there is none.
func (p *Processor) instance(ctx context.Context) (*sandbox.Instance, error) {
	if p.inst != nil {
		return p.inst, nil
	}
	p.st.reset(ctx)
	inst, err := p.mod.Instantiate(ctx, p.name, p.st)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", p.name, err)
	}
	if inst.Exports(ExportInit) {
		c := sandbox.Call{Function: ExportInit}
		if err := inst.Call(ctx, &c, &p.rep); err != nil {
			inst.Close(ctx)
			return nil, err
		}
		if p.rep.Failed() {
			inst.Close(ctx)
			return nil, fmt.Errorf("%s: init: %s", p.name, p.rep.Reason())
		}
		if len(p.st.outputs) > 0 {
			inst.Close(ctx)
			return nil, fmt.Errorf("%s: init: emitted %d messages outside an event", p.name, len(p.st.outputs))
		}
	}
	p.inst, p.events, p.fuel = inst, 0, 0
	return inst, nil
}

// drop closes the instance; the next event gets a fresh one.
func (p *Processor) drop(ctx context.Context) {
	if p.inst != nil {
		p.inst.Close(ctx)
		p.inst = nil
		p.replaced++
	}
}

// Close releases the instance.
func (p *Processor) Close(ctx context.Context) {
	if p.inst != nil {
		p.inst.Close(ctx)
		p.inst = nil
	}
}

// Process runs one event and fills res. A failure of the guest (trap,
// violation, rejection) is res.Reason, never an error; the error is for the
// host (an instance that cannot be created, a key-value store that does not
// answer): the event should be retried.
func (p *Processor) Process(ctx context.Context, data []byte, res *Result) error {
	*res = Result{}
	retry, err := p.process(ctx, data, res, true)
	if err == nil && retry {
		_, err = p.process(ctx, data, res, false)
	}
	return err
}

// process is one attempt; retry is true when the event ran out of the
// instance's fuel budget (not its own): it then runs again on a fresh
// instance.
func (p *Processor) process(ctx context.Context, data []byte, res *Result, mayRetry bool) (retry bool, err error) {
	inst, err := p.instance(ctx)
	if err != nil {
		return false, err
	}
	if uint64(len(data)) > 1<<31 {
		res.Reason = fmt.Sprintf("event of %d bytes is above 2 GiB", len(data))
		return false, nil
	}
	st := p.st
	st.reset(ctx)
	start := time.Now()
	ev := p.pol.Events
	budget, instLimited := p.pol.Limits.Fuel, false
	if ev.InstanceFuel > 0 {
		left := ev.InstanceFuel - min(p.fuel, ev.InstanceFuel)
		if left == 0 { // spent by earlier events: recycled after them
			p.drop(ctx)
			return p.process(ctx, data, res, mayRetry)
		}
		if budget == 0 || left < budget {
			budget, instLimited = left, true
		}
	}
	deadline := start.Add(p.pol.Limits.Timeout.Std())
	rep := &p.rep

	p.params[0] = api.EncodeU32(uint32(len(data)))
	p.allocCall.Params, p.allocCall.Fuel, p.allocCall.Deadline = p.params[:1], budget, deadline
	if err := inst.Call(ctx, &p.allocCall, rep); err != nil {
		return false, err
	}
	res.FuelUsed = rep.FuelUsed
	if rep.Failed() {
		return p.fail(ctx, res, start, "alloc: "+p.reason(budget, instLimited), instLimited && mayRetry)
	}
	ptr := api.DecodeU32(rep.Results[0])
	if !inst.Memory().Write(ptr, data) {
		p.drop(ctx)
		res.Reason = fmt.Sprintf("alloc(%d) returned %d: the event does not fit in memory there", len(data), ptr)
		res.Duration = time.Since(start)
		return false, nil
	}
	left := budget
	if budget > 0 {
		left = budget - min(rep.FuelUsed, budget)
		if left == 0 {
			p.rep = sandbox.CallReport{Outcome: sandbox.OutcomeViolation, Violation: &sandbox.Violation{Kind: sandbox.KindFuelExhausted}}
			return p.fail(ctx, res, start, p.reason(budget, instLimited), instLimited && mayRetry)
		}
	}
	p.params[0], p.params[1] = api.EncodeU32(ptr), api.EncodeU32(uint32(len(data)))
	p.procCall.Params, p.procCall.Fuel, p.procCall.Deadline = p.params[:2], left, deadline
	if err := inst.Call(ctx, &p.procCall, rep); err != nil {
		return false, err
	}
	res.FuelUsed += rep.FuelUsed
	if st.hostErr != nil {
		p.drop(ctx)
		return false, st.hostErr
	}
	if rep.Failed() {
		return p.fail(ctx, res, start, p.reason(budget, instLimited), instLimited && mayRetry)
	}
	p.fuel += res.FuelUsed
	p.events++
	if rc := api.DecodeI32(rep.Results[0]); rc != 0 {
		res.Reason = fmt.Sprintf("rejected: process_event returned %d", rc)
	} else if len(st.putOrder) > 0 {
		for _, k := range st.putOrder {
			if err := p.kv.Put(ctx, k, st.puts[k]); err != nil {
				p.drop(ctx) // its counters saw an event whose effects are not stored
				if errors.Is(err, ErrUnpublishable) {
					// It would fail the same way every time: the event's
					// fault, dead-lettered, not the store's.
					res.Reason = fmt.Sprintf("kv_put %s: %v", k, err)
					res.Duration = time.Since(start)
					return false, nil
				}
				return false, fmt.Errorf("kv_put %s: %w", k, err)
			}
		}
	}
	if res.Reason == "" {
		res.Outputs = st.outputs
	}
	res.Duration = time.Since(start)
	if (ev.RecycleAfter > 0 && p.events >= ev.RecycleAfter) || (ev.InstanceFuel > 0 && p.fuel >= ev.InstanceFuel) {
		p.drop(ctx)
	}
	return false, nil
}

// reason is the dead-letter reason of the failed call in p.rep. Fuel and
// deadline are the event's (alloc and process_event together), so their
// violations name the event's limits rather than the call's remainder.
func (p *Processor) reason(budget uint64, instLimited bool) string {
	v := p.rep.Violation
	switch {
	case v != nil && v.Kind == sandbox.KindFuelExhausted && instLimited:
		return fmt.Sprintf("violation %s: the instance's fuel budget (events.instance_fuel %d) exhausted", v.Kind, p.pol.Events.InstanceFuel)
	case v != nil && v.Kind == sandbox.KindFuelExhausted:
		return fmt.Sprintf("violation %s: the event's fuel budget of %d exhausted", v.Kind, budget)
	case v != nil && v.Kind == sandbox.KindTimeout && v.Detail == "the caller's deadline passed":
		return fmt.Sprintf("violation %s: the event's deadline of %s exceeded", v.Kind, p.pol.Limits.Timeout)
	}
	return p.rep.Reason()
}

// fail ends an event that trapped or violated a limit: the instance is
// replaced. When the budget that ran out was the instance's, not the
// event's, the event is retried once on the fresh instance.
func (p *Processor) fail(ctx context.Context, res *Result, start time.Time, reason string, retry bool) (bool, error) {
	p.drop(ctx)
	if retry && strings.Contains(reason, string(sandbox.KindFuelExhausted)) {
		res.FuelUsed = 0
		return true, nil
	}
	res.Reason = reason
	res.Duration = time.Since(start)
	return false, nil
}
