package trust

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/wasmward/wasmward/policy"
)

// Gate is the one decision run and serve make before compiling a module: it
// verifies the module's signatures (embedded, and cosign ones when the
// policy accepts them) against the trust policy, decides the module's name
// from what is signed, verifies and returns an attestation's policy when
// one is given, and applies rollback protection. Build it with OpenGate.
type Gate struct {
	// Policy is the trust policy. Required.
	Policy *Policy
	// State, when set, refuses versions older than one accepted before.
	State *State
	// AllowDowngrade lets an older version through (and records it).
	AllowDowngrade bool
	// RequireAttestation refuses a module without an attestation (the
	// policy's require_attestation does too).
	RequireAttestation bool

	stateErr error // why the state file could not be opened
}

// GateConfig says what OpenGate opens.
type GateConfig struct {
	// TrustPolicy is the trust policy file. Required.
	TrustPolicy string
	// StateFile is the version state file ("": no rollback protection).
	StateFile string
	// AllowDowngrade accepts older versions (needs StateFile).
	AllowDowngrade bool
	// RequireAttestation refuses modules without an attestation.
	RequireAttestation bool
}

// OpenGate loads the trust policy and opens the version state. A policy
// that does not load, and AllowDowngrade without StateFile, are errors (the
// configuration is wrong). A state file that cannot be read or parsed is
// not: every module is then refused by Admit (reason version-state), since
// starting over empty would re-admit old versions.
func OpenGate(cfg GateConfig) (*Gate, error) {
	if cfg.AllowDowngrade && cfg.StateFile == "" {
		return nil, errors.New("allowing downgrades needs a version state file")
	}
	pol, err := LoadPolicy(cfg.TrustPolicy)
	if err != nil {
		return nil, err
	}
	g := &Gate{Policy: pol, AllowDowngrade: cfg.AllowDowngrade, RequireAttestation: cfg.RequireAttestation}
	if cfg.StateFile != "" {
		g.State, g.stateErr = OpenState(cfg.StateFile)
	}
	return g, nil
}

// Material is a module and what came with it.
type Material struct {
	// Module is the module's bytes.
	Module []byte
	// Name is a name the caller chose (--name, a route's name), "" for
	// none. It identifies the module only when the module carries no signed
	// name and the policy allows caller names (caller_names: true); a
	// signed name it contradicts is a refusal.
	Name string
	// File is the module's file; its base name without .wasm is the
	// default caller name (see Name).
	File string
	// Attestation is a DSSE envelope from `wasmward attest`, or nil.
	Attestation []byte
	// CosignSignature and CosignBundle are detached cosign signatures over
	// the module file, or nil.
	CosignSignature, CosignBundle []byte
}

// Files names the files that may come with a module. Empty fields are
// looked for next to the module as MODULE.sig and MODULE.bundle when the
// policy accepts cosign signatures; the attestation only where named.
type Files struct {
	Module      string
	Attestation string
	Signature   string
	Bundle      string
}

// ReadMaterial reads bin's trust material named by f. A named file that
// cannot be read is an error; a MODULE.sig or MODULE.bundle that does not
// exist is not. Neighbours are not read unless the policy accepts cosign
// signatures, and a named signature or bundle is an error if it does not.
func (g *Gate) ReadMaterial(bin []byte, name string, f Files) (Material, error) {
	m := Material{Module: bin, Name: name, File: f.Module}
	if (f.Signature != "" || f.Bundle != "") && !g.Policy.AcceptsCosign() {
		return m, fmt.Errorf("a cosign signature or bundle was named, but %s does not accept them (cosign_signatures: true)", g.Policy.name)
	}
	read := func(what, path string, optional bool) ([]byte, error) {
		b, err := os.ReadFile(path)
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		return b, nil
	}
	var err error
	if f.Attestation != "" {
		if m.Attestation, err = read("attestation", f.Attestation, false); err != nil {
			return m, err
		}
	}
	if !g.Policy.AcceptsCosign() {
		return m, nil
	}
	for _, x := range []struct {
		what, path, neighbour string
		dst                   *[]byte
	}{
		{"cosign signature", f.Signature, ".sig", &m.CosignSignature},
		{"cosign bundle", f.Bundle, ".bundle", &m.CosignBundle},
	} {
		path, optional := x.path, false
		if path == "" {
			if f.Module == "" {
				continue
			}
			path, optional = f.Module+x.neighbour, true
		}
		if *x.dst, err = read(x.what, path, optional); err != nil {
			return m, err
		}
	}
	return m, nil
}

// Admission is what Gate.Admit found for a module allowed to run.
type Admission struct {
	// Name is the module's identity: its signed name, its attestation's
	// subject name, or (only where the policy allows) the caller's name.
	Name string
	// NameSource says where Name came from: "signed", "attestation" or
	// "caller".
	NameSource string
	// Signature is the result of the signature check.
	Signature Result
	// Attested is true when an attestation verified; Policy is then the
	// policy it grants and Attestation who signed it.
	Attested    bool
	Policy      policy.Policy
	Attestation Result
}

// Admit decides whether the module may run. Every refusal is a
// *RefusedError; other errors are a cancelled context. The name used by
// rules and by the version state is decided by what is signed:
//  1. a wasmward.name section covered by a trusted signature;
//  2. else the subject name of an attestation signed by a trusted key;
//  3. else the caller's name (Material.Name, or the file's base name), only
//     if the policy says caller_names: true, or when the module is unsigned
//     and the policy lets unsigned modules run (nothing is signed to name it).
//
// Otherwise the module is refused. The version state is updated only when
// everything else passed.
func (g *Gate) Admit(ctx context.Context, m Material) (Admission, error) {
	caller := m.Name
	if caller == "" && m.File != "" {
		caller = ModuleName(m.File)
	}
	p := g.Policy
	c, err := p.collect(ctx, caller, signedInput{bin: m.Module, csig: m.CosignSignature, cbundle: m.CosignBundle})
	if err != nil {
		return Admission{}, err
	}
	a := Admission{Name: c.name, NameSource: "signed"}
	if a.Name == "" && m.Attestation != nil {
		if a.Name, err = p.attestedName(caller, m.Module, m.Attestation); err != nil {
			return Admission{}, err
		}
		a.NameSource = "attestation"
	}
	switch {
	case a.Name != "":
		if m.Name != "" && m.Name != a.Name {
			return Admission{}, refuse(m.Name, ReasonNotAllowed, "the module's %s name is %q, not %q: a signed name cannot be overridden", a.NameSource, a.Name, m.Name)
		}
	case p.callerNames || c.unsigned:
		a.Name, a.NameSource = caller, "caller"
		if a.Name == "" {
			return Admission{}, refuseNoName()
		}
	default:
		return Admission{}, refuse(caller, ReasonNotAllowed, "the module carries no signed name (sign it with --module-name NAME, or give an attestation), and %s does not let the caller name it (caller_names: true)", p.name)
	}
	if err := CheckModuleName(a.Name); err != nil {
		return Admission{}, refuse(a.Name, ReasonNotAllowed, "%w", err)
	}
	if a.Signature, err = p.evaluate(a.Name, c); err != nil {
		return Admission{}, err
	}
	if a.NameSource != "caller" {
		a.Signature.SignedName = a.Name
	}
	if m.Attestation != nil {
		pol, ares, err := p.VerifyAttestation(ctx, a.Name, m.Module, m.Attestation)
		if err != nil {
			return Admission{}, err
		}
		a.Attested, a.Policy, a.Attestation = true, pol, ares
	} else if g.RequireAttestation || p.requireAttestation {
		return Admission{}, &RefusedError{Module: a.Name, Reason: ReasonAttestation, Err: errNoAttestation}
	}
	if g.stateErr != nil {
		return Admission{}, &RefusedError{Module: a.Name, Reason: ReasonState, Err: g.stateErr}
	}
	if g.State != nil {
		if err := g.State.Admit(ctx, a.Name, c.version, g.AllowDowngrade); err != nil {
			return Admission{}, err
		}
	}
	return a, nil
}
