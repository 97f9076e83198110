package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/internal/yamlstrict"
)

// Policy is a trust policy: the public keys a host trusts, which of them may
// sign which modules and how many must, and whether unsigned modules run.
// It is immutable once loaded and safe for concurrent use.
type Policy struct {
	name             string
	keys             []namedKey
	rules            []Rule
	requireSignature bool
	// callerNames lets a name chosen by whoever runs the module (file name,
	// --name, a route's name) identify a module that carries no signed name.
	callerNames bool
	// requireAttestation refuses modules without an attestation.
	requireAttestation bool
	// cosignSignatures accepts detached cosign signatures and bundles.
	cosignSignatures bool
}

type namedKey struct {
	name string
	key  *PublicKey
}

// Rule says which keys may sign the modules whose name matches Modules and
// how many distinct ones must.
type Rule struct {
	// Modules is a path.Match glob over module names: "*" matches any run
	// of characters except "/", "?" one character, "[a-z]" a class.
	Modules string
	// Keys are the names of the keys that may sign.
	Keys []string
	// Threshold is how many distinct keys of Keys must have signed (k of n).
	Threshold int
}

// policyFile is the YAML form.
type policyFile struct {
	Keys []struct {
		Name      string `yaml:"name"`
		PublicKey string `yaml:"public_key"`
		RSAScheme string `yaml:"rsa_scheme"`
	} `yaml:"keys"`
	Rules []struct {
		Modules   string    `yaml:"modules"`
		Keys      []string  `yaml:"keys"`
		Threshold yaml.Node `yaml:"threshold"`
	} `yaml:"rules"`
	RequireSignature   *bool `yaml:"require_signature"`
	CallerNames        bool  `yaml:"caller_names"`
	RequireAttestation bool  `yaml:"require_attestation"`
	CosignSignatures   bool  `yaml:"cosign_signatures"`
}

// LoadPolicy reads the trust policy at path. Key files are read relative to
// the policy file's directory.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trust policy: %w", err)
	}
	return ParsePolicy(data, path, filepath.Dir(path))
}

// ParsePolicy reads a trust policy from data. name is used in messages
// ("trust.yaml:7: unknown key \"thresold\""); relative key paths are
// resolved against dir. Unknown keys, unknown key names in rules, duplicate
// key names, bad globs and thresholds outside 1..len(keys) are errors.
// require_signature defaults to true.
func ParsePolicy(data []byte, name, dir string) (*Policy, error) {
	var f policyFile
	if err := yamlstrict.Unmarshal(data, &f, name); err != nil {
		return nil, err
	}
	p := &Policy{name: name, requireSignature: true, callerNames: f.CallerNames, requireAttestation: f.RequireAttestation, cosignSignatures: f.CosignSignatures}
	if f.RequireSignature != nil {
		p.requireSignature = *f.RequireSignature
	}
	byName := map[string]bool{}
	for i, k := range f.Keys {
		where := fmt.Sprintf("%s: keys[%d]", name, i)
		if k.Name == "" {
			return nil, fmt.Errorf("%s: name is empty", where)
		}
		if byName[k.Name] {
			return nil, fmt.Errorf("%s: duplicate key name %q", where, k.Name)
		}
		byName[k.Name] = true
		if k.PublicKey == "" {
			return nil, fmt.Errorf("%s (%s): public_key is empty", where, k.Name)
		}
		kp := k.PublicKey
		if !filepath.IsAbs(kp) {
			kp = filepath.Join(dir, kp)
		}
		pk, err := LoadPublicKey(kp)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, k.Name, err)
		}
		if k.RSAScheme != "" || pk.Type() == RSA {
			if pk, err = pk.WithRSAScheme(RSAScheme(k.RSAScheme)); err != nil {
				return nil, fmt.Errorf("%s (%s): %w", where, k.Name, err)
			}
		}
		for _, o := range p.keys {
			if o.key.Equal(pk) {
				return nil, fmt.Errorf("%s (%s): same public key as %q", where, k.Name, o.name)
			}
		}
		p.keys = append(p.keys, namedKey{name: k.Name, key: pk})
	}
	if len(p.keys) == 0 && p.requireSignature {
		return nil, fmt.Errorf("%s: no keys, but require_signature is true: nothing could ever verify", name)
	}
	for i, r := range f.Rules {
		where := fmt.Sprintf("%s: rules[%d]", name, i)
		if r.Modules == "" {
			return nil, fmt.Errorf("%s: modules is empty", where)
		}
		if _, err := path.Match(r.Modules, ""); err != nil {
			return nil, fmt.Errorf("%s: modules %q: %w", where, r.Modules, err)
		}
		if len(r.Keys) == 0 {
			return nil, fmt.Errorf("%s: keys is empty", where)
		}
		seen := map[string]bool{}
		for _, k := range r.Keys {
			if !byName[k] {
				return nil, fmt.Errorf("%s: unknown key %q (not in keys)", where, k)
			}
			if seen[k] {
				return nil, fmt.Errorf("%s: key %q listed twice", where, k)
			}
			seen[k] = true
		}
		t, err := threshold(&r.Threshold, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if t < 1 || t > len(r.Keys) {
			return nil, fmt.Errorf("%s: threshold %d: must be between 1 and the %d key(s) listed", where, t, len(r.Keys))
		}
		p.rules = append(p.rules, Rule{Modules: r.Modules, Keys: append([]string(nil), r.Keys...), Threshold: t})
	}
	return p, nil
}

// threshold reads a rule's threshold: 1 when absent, else an integer.
// YAML would turn 1.9 into 1 and null into "absent" when decoding into an
// int, silently weakening a k-of-n rule, so both are refused with the line.
func threshold(n *yaml.Node, file string) (int, error) {
	if n.Kind == 0 {
		return 1, nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, fmt.Errorf("%s:%d: threshold %q: want an integer", file, n.Line, n.Value)
	}
	var t int
	if err := n.Decode(&t); err != nil {
		return 0, fmt.Errorf("%s:%d: threshold %q: %w", file, n.Line, n.Value, err)
	}
	return t, nil
}

// AcceptsCosign reports whether detached cosign signatures and bundles
// count (cosign_signatures: true).
func (p *Policy) AcceptsCosign() bool { return p.cosignSignatures }

// RequireSignature reports whether unsigned modules are refused.
func (p *Policy) RequireSignature() bool { return p.requireSignature }

// Keys returns the trusted keys by name.
func (p *Policy) Keys() map[string]*PublicKey {
	m := make(map[string]*PublicKey, len(p.keys))
	for _, k := range p.keys {
		m[k.name] = k.key
	}
	return m
}

// Signer is a trusted key that signed a module.
type Signer struct {
	Name        string  // the key's name in the trust policy
	Type        KeyType // its algorithm
	Fingerprint string  // "sha256:" + hex of its PKIX DER
}

// String is "NAME (TYPE FINGERPRINT)".
func (s Signer) String() string { return fmt.Sprintf("%s (%s %s)", s.Name, s.Type, s.Fingerprint) }

// Result is what a successful verification found.
type Result struct {
	// Module is the module name the policy was evaluated for.
	Module string
	// Signed is false only for an unsigned module a policy with
	// require_signature: false let through.
	Signed bool
	// Signers are the trusted keys with a valid signature over the module.
	Signers []Signer
	// Rule is the glob of the rule that applied ("" without rules).
	Rule string
	// Threshold is how many distinct signers the rule required.
	Threshold int
	// Version is the module's signed version ("" when unversioned).
	Version string
	// SignedName is the name the module carries in its signed content
	// ("" when none): a wasmward.name section, or (Admission) the subject
	// of its attestation.
	SignedName string
	// Unverified lists parts of a cosign bundle that were not verified
	// (transparency log entries, timestamps), for callers to report.
	Unverified []string
}

// Reason classifies why a module was refused.
type Reason string

// Reasons a module is refused.
const (
	ReasonUnsigned    Reason = "unsigned"      // no signature and the policy requires one
	ReasonMalformed   Reason = "malformed"     // the module or the signature data does not parse
	ReasonModified    Reason = "modified"      // content differs from what was signed
	ReasonUntrusted   Reason = "untrusted"     // no valid signature by a trusted key
	ReasonNotAllowed  Reason = "not-allowed"   // no rule lets the signers sign this module
	ReasonThreshold   Reason = "threshold"     // fewer distinct trusted signers than the rule needs
	ReasonRollback    Reason = "rollback"      // older than a version already accepted
	ReasonAttestation Reason = "attestation"   // the attestation is for another module or malformed
	ReasonState       Reason = "version-state" // the version state file could not be read or written
)

// RefusedError is the error Policy.Verify, Policy.VerifyAttestation and
// Gate.Admit return when a module must not run. Err says why in one line.
type RefusedError struct {
	Module string
	Reason Reason
	Err    error
}

// Error is "module NAME refused (REASON): WHY".
func (e *RefusedError) Error() string {
	return fmt.Sprintf("module %q refused (%s): %v", e.Module, e.Reason, e.Err)
}

// Unwrap returns the cause (ErrUnsigned, ErrModified, ... when one applies).
func (e *RefusedError) Unwrap() error { return e.Err }

func refuse(module string, r Reason, format string, args ...any) *RefusedError {
	return &RefusedError{Module: module, Reason: r, Err: fmt.Errorf(format, args...)}
}

// ModuleName is the default name of a module file: its base name without
// the .wasm extension ("dist/acme-hello.wasm" -> "acme-hello").
func ModuleName(file string) string {
	return strings.TrimSuffix(filepath.Base(file), ".wasm")
}

// refuseNoName refuses an empty module name: "*" matches it, and all
// unnamed modules would share one rollback record.
func refuseNoName() *RefusedError {
	return refuse("", ReasonNotAllowed, "the module has no name (name it, e.g. with --name)")
}

// ruleFor returns the first rule whose glob matches module. ok is false when
// rules exist and none matches.
func (p *Policy) ruleFor(module string) (Rule, bool) {
	if len(p.rules) == 0 {
		all := make([]string, len(p.keys))
		for i, k := range p.keys {
			all[i] = k.name
		}
		return Rule{Keys: all, Threshold: 1}, true
	}
	for _, r := range p.rules {
		if ok, _ := path.Match(r.Modules, module); ok {
			return r, true
		}
	}
	return Rule{}, false
}

// Verify checks the embedded signatures of bin, the module called module,
// against the policy. It returns who signed when the policy is met, and a
// *RefusedError saying why otherwise. Rules are tried in file order; the
// first whose glob matches the module name applies, and then only signatures
// by that rule's keys count toward its threshold. A module that carries a
// signed name (wasmward.name) other than module is refused. Verify takes
// module as given; Gate.Admit decides the name as the policy says.
func (p *Policy) Verify(ctx context.Context, module string, bin []byte) (Result, error) {
	return p.verifyNamed(ctx, module, signedInput{bin: bin})
}

// VerifyDetached is Verify with a detached signature (the payload of a
// signature section) instead of an embedded one.
func (p *Policy) VerifyDetached(ctx context.Context, module string, bin, sig []byte) (Result, error) {
	if sig == nil {
		sig = []byte{}
	}
	return p.verifyNamed(ctx, module, signedInput{bin: bin, detached: sig})
}

func (p *Policy) verifyNamed(ctx context.Context, module string, in signedInput) (Result, error) {
	if module == "" {
		return Result{}, refuseNoName()
	}
	c, err := p.collect(ctx, module, in)
	if err != nil {
		return Result{}, err
	}
	if c.name != "" && c.name != module {
		return Result{}, refuse(module, ReasonNotAllowed, "the module's signed name is %q, not %q", c.name, module)
	}
	return p.evaluate(module, c)
}

// signedInput is a module and the signatures that came with it.
type signedInput struct {
	bin      []byte
	detached []byte // detached wasmsig signature, nil for embedded
	csig     []byte // cosign sign-blob signature, nil when none
	cbundle  []byte // Sigstore bundle, nil when none
}

// collected is what the signatures over a module established.
type collected struct {
	unsigned   bool         // no signature of any kind
	signed     []*PublicKey // trusted keys with a valid signature over the whole file
	name       string       // signed name ("" when none, or unsigned)
	version    string       // signed version
	unverified []string     // bundle parts not verified (BundleResult)
}

// collect verifies every signature that came with the module against the
// policy's keys: the embedded (or detached) wasmsig signature, and cosign
// signatures and bundles when the policy accepts them. Signers of all kinds
// count together, each key once. module is used in refusals only.
func (p *Policy) collect(ctx context.Context, module string, in signedInput) (collected, error) {
	var c collected
	if err := ctx.Err(); err != nil {
		return c, err
	}
	keys := make([]*PublicKey, len(p.keys))
	for i, k := range p.keys {
		keys[i] = k.key
	}
	cosign := in.csig != nil || in.cbundle != nil
	if cosign && !p.cosignSignatures {
		return c, refuse(module, ReasonNotAllowed, "a cosign signature or bundle was given, but %s does not accept them (cosign_signatures: true)", p.name)
	}
	er, err := VerifyModule(in.bin, in.detached, keys)
	var untrusted error
	switch {
	case errors.Is(err, ErrUnsigned):
		c.unsigned = !cosign
		if !c.unsigned || !p.requireSignature {
			// The name and version are signed by the cosign signature
			// (it covers the whole file), or nothing is signed at all.
			secs, err := wasm.Sections(in.bin)
			if err != nil {
				return c, &RefusedError{Module: module, Reason: ReasonMalformed, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
			}
			if c.name, c.version, err = findMeta(secs); err != nil {
				return c, &RefusedError{Module: module, Reason: ReasonMalformed, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
			}
		}
		if c.unsigned && p.requireSignature {
			return c, &RefusedError{Module: module, Reason: ReasonUnsigned, Err: err}
		}
		if c.unsigned {
			c.name, c.version = "", "" // nothing vouches for them
			return c, nil
		}
	case errors.Is(err, ErrMalformed):
		return c, &RefusedError{Module: module, Reason: ReasonMalformed, Err: err}
	case errors.Is(err, ErrModified):
		return c, &RefusedError{Module: module, Reason: ReasonModified, Err: err}
	case errors.Is(err, ErrUntrusted):
		untrusted = err
		if !cosign {
			return c, &RefusedError{Module: module, Reason: ReasonUntrusted, Err: err}
		}
		secs, _ := wasm.Sections(in.bin) // parsed by VerifyModule already
		if c.name, c.version, err = findMeta(secs); err != nil {
			return c, &RefusedError{Module: module, Reason: ReasonMalformed, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
		}
	case err != nil:
		return c, &RefusedError{Module: module, Reason: ReasonMalformed, Err: err}
	default:
		c.signed, c.name, c.version = er.Signers, er.Name, er.Version
	}
	if cosign {
		var bundleErr error
		for _, k := range keys {
			if !k.digestSigner() || slices.Contains(c.signed, k) {
				continue
			}
			ok := false
			if in.csig != nil && VerifyBlob(k, in.bin, in.csig) == nil {
				ok = true
			}
			if in.cbundle != nil {
				res, err := VerifyBundle(k, in.bin, in.cbundle)
				switch {
				case err == nil:
					ok = true
					c.unverified = res.Unverified
				case !errors.Is(err, ErrBadSignature):
					bundleErr = err // malformed: the same for every key
				}
			}
			if ok {
				c.signed = append(c.signed, k)
			}
		}
		if bundleErr != nil {
			return c, &RefusedError{Module: module, Reason: ReasonMalformed, Err: bundleErr}
		}
		if len(c.signed) == 0 {
			why := fmt.Errorf("%w: the cosign signature or bundle verifies under none of the ecdsa-p256 or rsa keys in %s", ErrUntrusted, p.name)
			if untrusted != nil {
				why = fmt.Errorf("%w; and %w", untrusted, why)
			}
			return c, &RefusedError{Module: module, Reason: ReasonUntrusted, Err: why}
		}
	}
	return c, nil
}

// evaluate applies the rule for module to what collect found.
func (p *Policy) evaluate(module string, c collected) (Result, error) {
	if c.unsigned {
		return Result{Module: module}, nil
	}
	res, err := p.applyRule(module, c.signed)
	if err != nil {
		return Result{}, err
	}
	res.Version, res.SignedName, res.Unverified = c.version, c.name, c.unverified
	return res, nil
}

// applyRule evaluates the rule for module over the trusted keys that
// produced a valid signature.
func (p *Policy) applyRule(module string, signed []*PublicKey) (Result, error) {
	rule, ok := p.ruleFor(module)
	names := p.namesOf(signed)
	if !ok {
		return Result{}, refuse(module, ReasonNotAllowed, "no rule in %s covers module %q (signed by %s)", p.name, module, strings.Join(names, ", "))
	}
	allowed := map[string]bool{}
	for _, k := range rule.Keys {
		allowed[k] = true
	}
	res := Result{Module: module, Signed: true, Rule: rule.Modules, Threshold: rule.Threshold}
	var others []string
	for _, k := range p.keys {
		for _, s := range signed {
			if !k.key.Equal(s) {
				continue
			}
			if allowed[k.name] {
				res.Signers = append(res.Signers, Signer{Name: k.name, Type: k.key.Type(), Fingerprint: k.key.Fingerprint()})
			} else {
				others = append(others, k.name)
			}
		}
	}
	if len(res.Signers) == 0 {
		return Result{}, refuse(module, ReasonNotAllowed, "signed by %s, which rule %q does not allow for this module (allowed: %s)", strings.Join(others, ", "), rule.Modules, strings.Join(rule.Keys, ", "))
	}
	if len(res.Signers) < rule.Threshold {
		got := make([]string, len(res.Signers))
		for i, s := range res.Signers {
			got[i] = s.Name
		}
		return Result{}, refuse(module, ReasonThreshold, "%d of %d required signatures (signed by %s; rule %q needs %d of %s)", len(res.Signers), rule.Threshold, strings.Join(got, ", "), rule.Modules, rule.Threshold, strings.Join(rule.Keys, ", "))
	}
	return res, nil
}

func (p *Policy) namesOf(keys []*PublicKey) []string {
	var names []string
	for _, k := range p.keys {
		for _, s := range keys {
			if k.key.Equal(s) {
				names = append(names, k.name)
			}
		}
	}
	return names
}
