package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/sandbox"
	"github.com/wasmward/wasmward/trust"
)

// trustFlags are the trust gate flags run and serve share. The decisions
// are trust.OpenGate's and trust.Gate.Admit's; these only wire flags to
// them, the same way for both commands.
type trustFlags struct {
	policy             string
	state              string
	allowDowngrade     bool
	requireAttestation bool
}

func (t *trustFlags) register(fl *pflag.FlagSet) {
	t.registerSignatures(fl)
	fl.BoolVar(&t.requireAttestation, "require-attestation", false, "refuse modules without a signed capability manifest (needs --trust; also the trust policy's require_attestation)")
}

// registerSignatures registers the flags of the gate's signature and
// version checks only: for a command that runs no attested modules.
func (t *trustFlags) registerSignatures(fl *pflag.FlagSet) {
	fl.StringVar(&t.policy, "trust", "", "verify modules against this trust policy (YAML) before compiling them")
	fl.StringVar(&t.state, "state", "", "version state file: refuse versions older than one accepted before (needs --trust)")
	fl.BoolVar(&t.allowDowngrade, "allow-downgrade", false, "accept an older version than the state file records (needs --state)")
}

// check refuses flag combinations that would silently do nothing: a trust
// flag (or one of others) without --trust, --allow-downgrade without
// --state.
func (t *trustFlags) check(fl *pflag.FlagSet, others ...string) error {
	if t.policy == "" {
		for _, n := range append([]string{"state", "allow-downgrade", "require-attestation"}, others...) {
			if fl.Lookup(n) != nil && fl.Changed(n) {
				return usageErr("--%s needs --trust FILE", n)
			}
		}
		return nil
	}
	if t.allowDowngrade && t.state == "" {
		return usageErr("--allow-downgrade needs --state FILE")
	}
	return nil
}

// open opens the gate; a trust policy that does not load is a usage error.
// An unreadable state file is not: the gate refuses every module.
func (t *trustFlags) open() (*trust.Gate, error) {
	g, err := trust.OpenGate(trust.GateConfig{TrustPolicy: t.policy, StateFile: t.state, AllowDowngrade: t.allowDowngrade, RequireAttestation: t.requireAttestation})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return g, nil
}

// admitModule runs the gate. A refusal is a *sandbox.Refusal of kind
// signature (run and serve exit 126 for it); other errors (a cancelled
// context) exit 1. Each bundle part that was not verified is passed to warn.
func admitModule(ctx context.Context, g *trust.Gate, m trust.Material, warn func(unverified string)) (trust.Admission, error) {
	adm, err := g.Admit(ctx, m)
	var re *trust.RefusedError
	switch {
	case errors.As(err, &re):
		return trust.Admission{}, signatureRefusal(re)
	case err != nil:
		return trust.Admission{}, withCode(exitFailure, fmt.Errorf("verify module: %w", err))
	}
	for _, u := range adm.Signature.Unverified {
		warn(u)
	}
	return adm, nil
}

func signatureRefusal(e *trust.RefusedError) *sandbox.Refusal {
	return &sandbox.Refusal{Violation: sandbox.Violation{
		Kind:   sandbox.KindSignature,
		Detail: fmt.Sprintf("%s (module %q): %v", e.Reason, e.Module, e.Err),
	}}
}
