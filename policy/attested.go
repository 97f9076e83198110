package policy

import (
	"fmt"
	"math"
	gopath "path"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/internal/yamlstrict"
)

// A signed capability manifest (an attestation) carries the policy its
// publisher signed for one exact binary. The publisher decides the module's
// capabilities; the operator stays in control of the host: operator limits
// can only tighten the attested ones, and attested mounts are backed by the
// operator's directories, never by host paths from the publisher's machine.

// CapabilityError is a capability an attested policy and the operator's
// ceiling disagree on. The sandbox reports it as capability_denied.
type CapabilityError struct{ Detail string }

func (e *CapabilityError) Error() string { return "capability denied: " + e.Detail }

// Ceiling returns the operator's side of an attested run before any file or
// flag is applied: no limit at all (each at its maximum) and no mounts.
func Ceiling() Policy {
	p := Default()
	p.Limits = Limits{
		Memory:     MaxMemory,
		Timeout:    Duration(math.MaxInt64),
		Output:     Size(math.MaxUint64),
		StackDepth: math.MaxUint32,
		Network: NetworkLimits{
			Requests:       math.MaxUint32,
			RequestBytes:   MaxMemory,
			ResponseBytes:  Size(math.MaxUint64),
			RequestTimeout: Duration(math.MaxInt64),
			Redirects:      MaxNetRedirects,
		},
	}
	return p
}

// ParseCeiling reads an operator policy file for an attested run over
// Ceiling: it may set limits (ceilings), capabilities.mounts (host
// directories for attested guest paths) and capabilities.network (the
// endpoints the operator lets attested modules reach), nothing else, since
// every other capability is the publisher's.
func ParseCeiling(data []byte, name string) (Policy, error) {
	p := Ceiling()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Policy{}, yamlstrict.Error(name, err)
	}
	if len(doc.Content) == 0 {
		return p, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Value != "capabilities" || v.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				if c := v.Content[j]; c.Value != "mounts" && c.Value != "network" {
					return Policy{}, fmt.Errorf("%s:%d: capabilities.%s: with an attestation the publisher's signed policy decides it; the operator's policy may set only limits, capabilities.mounts and capabilities.network", name, c.Line, c.Value)
				}
			}
		}
	}
	return Overlay(p, root, name)
}

// Attested returns the policy an attested module runs under: the attested
// policy att, with each limit lowered to the operator's ceiling op where that
// is tighter (fuel 0 is unmetered, the loosest), and each attested mount
// backed by op's host directory for the same guest path, read-only if either
// side says so. A mount one side has and the other has not, or an attested
// stdin file (a path on the publisher's machine), is a *CapabilityError.
// Network rules are granted only where op lists the same endpoint (see
// docs/network.md); network limits are lowered like the others.
func Attested(att, op Policy) (Policy, error) {
	e := att.Clone()
	l, o := &e.Limits, op.Limits
	l.Memory = min(l.Memory, o.Memory)
	l.Timeout = min(l.Timeout, o.Timeout)
	l.Output = min(l.Output, o.Output)
	l.StackDepth = min(l.StackDepth, o.StackDepth)
	if o.Fuel != 0 && (l.Fuel == 0 || o.Fuel < l.Fuel) {
		l.Fuel = o.Fuel
	}
	ln, on := &l.Network, o.Network
	ln.Requests = min(ln.Requests, on.Requests)
	ln.RequestBytes = min(ln.RequestBytes, on.RequestBytes)
	ln.ResponseBytes = min(ln.ResponseBytes, on.ResponseBytes)
	ln.RequestTimeout = min(ln.RequestTimeout, on.RequestTimeout)
	ln.Redirects = min(ln.Redirects, on.Redirects)
	net, err := attestedNetwork(att.Capabilities.Network, op.Capabilities.Network)
	if err != nil {
		return Policy{}, err
	}
	e.Capabilities.Network = net
	deny := func(format string, args ...any) error {
		return &CapabilityError{Detail: fmt.Sprintf(format, args...)}
	}
	if len(e.Capabilities.Stdin) > len("file:") && e.Capabilities.Stdin[:len("file:")] == "file:" {
		return Policy{}, deny("the attestation grants stdin %q, a file of the publisher's machine; attested stdin files are not opened", e.Capabilities.Stdin)
	}
	operator := map[string]Mount{}
	for _, m := range op.Capabilities.Mounts {
		operator[gopath.Clean(m.Guest)] = m
	}
	granted := map[string]bool{}
	e.Capabilities.Mounts = nil
	for _, am := range att.Capabilities.Mounts {
		g := gopath.Clean(am.Guest)
		granted[g] = true
		om, ok := operator[g]
		if !ok {
			return Policy{}, deny("the attestation grants mount %s, but the operator gives it no host directory", g)
		}
		e.Capabilities.Mounts = append(e.Capabilities.Mounts, Mount{Host: om.Host, Guest: am.Guest, ReadOnly: am.ReadOnly || om.ReadOnly})
	}
	for _, m := range op.Capabilities.Mounts {
		if g := gopath.Clean(m.Guest); !granted[g] {
			return Policy{}, deny("mount %s is not granted by the attestation", g)
		}
	}
	return e, e.Validate()
}
