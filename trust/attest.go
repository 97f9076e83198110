package trust

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/trust/internal/dsse"
	"github.com/wasmward/wasmward/trust/internal/strictjson"
)

// Signed capability manifests: an in-toto Statement v1 in a DSSE envelope
// whose subject is the module (name and SHA-256) and whose predicate is the
// wasmward policy the publisher grants that exact binary.
const (
	// PredicateType identifies a wasmward policy predicate.
	PredicateType = "https://wasmward.dev/policy/v1"
	// InTotoPayloadType is the DSSE payload type of in-toto statements.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto Statement v1 type.
	StatementType = "https://in-toto.io/Statement/v1"
)

type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Attest returns a DSSE envelope (JSON) holding an in-toto Statement v1
// about bin, named module, with pol as its predicate, signed with key
// (Ed25519 over the PAE; ECDSA P-256 over its SHA-256, ASN.1 DER). The
// envelope's key ID is the key's fingerprint.
func Attest(key *PrivateKey, module string, bin []byte, pol policy.Policy) ([]byte, error) {
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("attest: policy: %w", err)
	}
	pred, err := json.Marshal(pol)
	if err != nil {
		return nil, fmt.Errorf("attest: encode policy: %w", err)
	}
	return AttestPredicate(key, module, bin, PredicateType, pred)
}

// AttestPredicate returns a DSSE envelope (JSON) holding an in-toto
// Statement v1 about bin, named module, with the JSON predicate of type
// predicateType, signed with key as Attest signs. It is for statements
// other than capability manifests (the provenance of a snapshot);
// VerifyAttestation accepts only PredicateType.
func AttestPredicate(key *PrivateKey, module string, bin []byte, predicateType string, predicate json.RawMessage) ([]byte, error) {
	if !json.Valid(predicate) {
		return nil, errors.New("attest: the predicate is not JSON")
	}
	st := statement{
		Type:          StatementType,
		Subject:       []subject{{Name: module, Digest: map[string]string{"sha256": digest.SHA256Hex(bin)}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	}
	payload, err := json.Marshal(&st)
	if err != nil {
		return nil, fmt.Errorf("attest: encode statement: %w", err)
	}
	env := dsse.Envelope{Payload: base64.StdEncoding.EncodeToString(payload), PayloadType: InTotoPayloadType}
	return addEnvelopeSignature(&env, payload, key)
}

// AddAttestationSignature adds key's signature to the envelope of an
// attestation, for policies that need several signers. Like a first signer,
// a co-signer vouches for a module it holds: the envelope must be an
// attestation of bin named module (statement and predicate types, subject
// digest and name, a valid policy), or it is refused. It also refuses an
// envelope key already signed.
func AddAttestationSignature(envelope []byte, module string, bin []byte, key *PrivateKey) ([]byte, error) {
	env, payload, err := dsse.Parse(envelope)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	if _, err := readStatement(env.PayloadType, payload, module, bin); err != nil {
		return nil, fmt.Errorf("attest: cannot co-sign: %w", err)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	checks := checkBudget{what: "attestation"}
	for _, s := range env.Signatures {
		if err := checks.spend(); err != nil {
			return nil, fmt.Errorf("attest: %w", err)
		}
		if sig, err := s.DecodeSig(); err == nil && key.Public().verify(pae, sig) {
			return nil, fmt.Errorf("attest: the envelope is already signed by this key (%s)", key.Public().Fingerprint())
		}
	}
	return addEnvelopeSignature(env, payload, key)
}

func addEnvelopeSignature(env *dsse.Envelope, payload []byte, key *PrivateKey) ([]byte, error) {
	sig, err := key.sign(dsse.PAE(env.PayloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("attest: sign: %w", err)
	}
	env.Signatures = append(env.Signatures, dsse.Signature{KeyID: key.Public().Fingerprint(), Sig: base64.StdEncoding.EncodeToString(sig)})
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("attest: encode envelope: %w", err)
	}
	return append(out, '\n'), nil
}

// VerifyAttestation checks that envelope is an attestation for bin, named
// module, signed as the trust policy requires of that module (the same
// rules and thresholds as embedded signatures), and returns the policy it
// grants. The payload is interpreted only after its signatures verified.
// Errors are *RefusedError. Relative mount host paths in the returned
// policy are left as signed.
func (p *Policy) VerifyAttestation(ctx context.Context, module string, bin, envelope []byte) (policy.Policy, Result, error) {
	if err := ctx.Err(); err != nil {
		return policy.Policy{}, Result{}, err
	}
	if module == "" {
		return policy.Policy{}, Result{}, refuseNoName()
	}
	env, payload, signed, err := p.openEnvelope(module, envelope)
	if err != nil {
		return policy.Policy{}, Result{}, err
	}
	res, err := p.applyRule(module, signed)
	if err != nil {
		return policy.Policy{}, Result{}, err
	}
	pol, err := readStatement(env.PayloadType, payload, module, bin)
	if err != nil {
		reason := ReasonAttestation
		if errors.Is(err, ErrModified) {
			reason = ReasonModified
		}
		return policy.Policy{}, Result{}, &RefusedError{Module: module, Reason: reason, Err: err}
	}
	return pol, res, nil
}

// openEnvelope parses a DSSE envelope and returns it, its payload and the
// trusted keys that signed it; no trusted signature is a refusal. The
// payload must not be interpreted before this succeeded.
func (p *Policy) openEnvelope(module string, envelope []byte) (*dsse.Envelope, []byte, []*PublicKey, error) {
	env, payload, err := dsse.Parse(envelope)
	if err != nil {
		return nil, nil, nil, refuse(module, ReasonAttestation, "%w", err)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	var signed []*PublicKey
	checks := checkBudget{what: "attestation"}
	for _, k := range p.keys {
		for _, s := range env.Signatures {
			if err := checks.spend(); err != nil {
				return nil, nil, nil, refuse(module, ReasonAttestation, "%w", err)
			}
			sig, err := s.DecodeSig()
			if err == nil && k.key.verify(pae, sig) {
				signed = append(signed, k.key)
				break
			}
		}
	}
	if len(signed) == 0 {
		return nil, nil, nil, &RefusedError{Module: module, Reason: ReasonUntrusted,
			Err: fmt.Errorf("attestation: %w: %d signature(s), none by a key in %s (or the envelope was altered)", ErrUntrusted, len(env.Signatures), p.name)}
	}
	return env, payload, signed, nil
}

// attestedName returns the name an attestation signed by a trusted key
// gives bin: the name of its subject with bin's digest. Several subjects
// with bin's digest under different names are a refusal (the name would be
// the caller's choice again). The full check is VerifyAttestation's.
func (p *Policy) attestedName(display string, bin, envelope []byte) (string, error) {
	env, payload, _, err := p.openEnvelope(display, envelope)
	if err != nil {
		return "", err
	}
	if env.PayloadType != InTotoPayloadType {
		return "", refuse(display, ReasonAttestation, "payload type %q, want %q", env.PayloadType, InTotoPayloadType)
	}
	if err := strictjson.Unique(payload); err != nil {
		return "", refuse(display, ReasonAttestation, "statement: %w", err)
	}
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return "", refuse(display, ReasonAttestation, "statement: %w", err)
	}
	want := digest.SHA256Hex(bin)
	var names []string
	for _, sub := range st.Subject {
		if strings.EqualFold(sub.Digest["sha256"], want) && !slices.Contains(names, sub.Name) {
			names = append(names, sub.Name)
		}
	}
	switch len(names) {
	case 0:
		return "", &RefusedError{Module: display, Reason: ReasonModified, Err: fmt.Errorf("attestation: %w: no subject has the module's sha256 %s (it attests another binary)", ErrModified, want)}
	case 1:
		return names[0], nil
	}
	return "", refuse(display, ReasonAttestation, "the attestation names this binary %d ways (%s): its identity would be the caller's choice", len(names), strings.Join(names, ", "))
}

// readStatement checks that payload, of DSSE type payloadType, is a
// wasmward policy statement about bin named module, and returns the policy
// it grants. A subject digest other than bin's wraps ErrModified.
func readStatement(payloadType string, payload []byte, module string, bin []byte) (policy.Policy, error) {
	if payloadType != InTotoPayloadType {
		return policy.Policy{}, fmt.Errorf("payload type %q, want %q", payloadType, InTotoPayloadType)
	}
	if err := strictjson.Unique(payload); err != nil {
		return policy.Policy{}, fmt.Errorf("statement: %w", err)
	}
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return policy.Policy{}, fmt.Errorf("statement: %w", err)
	}
	if st.Type != StatementType {
		return policy.Policy{}, fmt.Errorf("statement type %q, want %q", st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return policy.Policy{}, fmt.Errorf("predicate type %q, want %q", st.PredicateType, PredicateType)
	}
	want := digest.SHA256Hex(bin)
	matched := false
	var others []string // names of subjects with this digest
	for _, sub := range st.Subject {
		if strings.EqualFold(sub.Digest["sha256"], want) {
			if matched = sub.Name == module; matched {
				break
			}
			others = append(others, strconv.Quote(sub.Name))
		}
	}
	switch {
	case !matched && len(others) == 0:
		return policy.Policy{}, fmt.Errorf("attestation: %w: no subject has the module's sha256 %s (it attests another binary)", ErrModified, want)
	case !matched:
		return policy.Policy{}, fmt.Errorf("the attestation names the module %s, not %q", strings.Join(others, ", "), module)
	}
	if len(st.Predicate) == 0 || bytes.Equal(st.Predicate, []byte("null")) {
		return policy.Policy{}, errors.New("the statement has no predicate")
	}
	// JSON is YAML: the policy package's strict parser reads the predicate.
	return policy.Parse(st.Predicate, "attestation predicate")
}

// errNoAttestation is returned by Gate.Admit when the gate requires an
// attestation and none was given.
var errNoAttestation = errors.New("an attestation is required and none was given")
