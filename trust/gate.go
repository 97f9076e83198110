package trust

import (
	"context"

	"github.com/wasmward/wasmward/policy"
)

// Gate is the one call run and serve make before compiling a module: it
// verifies the module's signatures against the trust policy, verifies and
// returns an attestation's policy when one is given, and applies rollback
// protection. The zero fields disable what they configure.
type Gate struct {
	// Policy is the trust policy. Required.
	Policy *Policy
	// State, when set, refuses versions older than one accepted before.
	State *State
	// AllowDowngrade lets an older version through (and records it).
	AllowDowngrade bool
	// RequireAttestation refuses a module without an attestation.
	RequireAttestation bool
}

// Admission is what Gate.Admit found for a module allowed to run.
type Admission struct {
	// Signature is the result of the embedded signature check.
	Signature Result
	// Attested is true when an attestation verified; Policy is then the
	// policy it grants and Attestation who signed it.
	Attested    bool
	Policy      policy.Policy
	Attestation Result
}

// Admit decides whether bin, named module, may run. attestation is a DSSE
// envelope from `wasmward attest`, or nil. Every refusal is a
// *RefusedError; the version state is updated only when everything else
// passed.
func (g *Gate) Admit(ctx context.Context, module string, bin, attestation []byte) (Admission, error) {
	var a Admission
	res, err := g.Policy.Verify(ctx, module, bin)
	if err != nil {
		return Admission{}, err
	}
	a.Signature = res
	if attestation != nil {
		pol, ares, err := g.Policy.VerifyAttestation(ctx, module, bin, attestation)
		if err != nil {
			return Admission{}, err
		}
		a.Attested, a.Policy, a.Attestation = true, pol, ares
	} else if g.RequireAttestation {
		return Admission{}, &RefusedError{Module: module, Reason: ReasonAttestation, Err: errNoAttestation}
	}
	if g.State != nil {
		if err := g.State.Admit(ctx, module, res.Version, g.AllowDowngrade); err != nil {
			return Admission{}, err
		}
	}
	return a, nil
}
