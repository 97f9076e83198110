package trust

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/wasmward/wasmward/internal/wasm"
	"github.com/wasmward/wasmward/trust/internal/wasmsig"
)

// VersionSection is the custom section that carries a module's signed
// version. `sign --version` inserts it before signing, right after the
// signature section, so the signed hash covers it.
const VersionSection = "wasmward.version"

// NameSection is the custom section that carries a module's signed name,
// its identity for trust rules and rollback state. `sign --module-name`
// inserts it before signing, like the version.
const NameSection = "wasmward.name"

// maxNameLen bounds a module name.
const maxNameLen = 256

// SignOptions tune embedded signing.
type SignOptions struct {
	// NoKeyID leaves the key ID out of the signature. By default the
	// signature carries wasmsign2's default key ID for the key, which lets
	// verifiers name the signer without trying every key.
	NoKeyID bool
	// Version, when set, is recorded in a wasmward.version custom section
	// covered by the signature (a semantic version, e.g. "1.4.2"). A module
	// that already carries a version must be signed with the same one, and
	// a version cannot be added to a module that is already signed.
	Version string
	// Name, when set, is recorded in a wasmward.name custom section covered
	// by the signature: the module's identity for trust policy rules and
	// rollback state. The same rules as for Version apply.
	Name string
}

// SignModule adds an Ed25519 signature over the whole module bin, in the
// wasmsign2 format: a "signature" custom section first, signing the rolling
// SHA-256 of the sections after it. Sections are re-serialized with minimal
// LEB128 lengths, as wasmsign2 does, so the output may differ from bin
// beyond the signature section. Signing an already signed module adds a
// signer; signing twice with the same key is an error.
func SignModule(bin []byte, key *PrivateKey, opts SignOptions) ([]byte, error) {
	data, body, err := prepareSign(bin, nil, key, opts, false)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(bin)+128)
	out = append(out, bin[:wasm.HeaderSize]...)
	payload := wasm.AppendName(nil, wasmsig.SectionName)
	payload = append(payload, data.Marshal()...)
	out = append(out, byte(wasm.SectionCustom))
	out = wasm.AppendU32(out, uint32(len(payload)))
	out = append(out, payload...)
	return append(out, body.Bytes...), nil
}

// SignDetached returns a detached signature for bin: the payload of the
// signature section, on its own. existing, when not empty, is a detached
// signature to add this signer to. bin must be unsigned and already in
// minimal LEB128 form (a detached signature cannot rewrite the module), and
// cannot be given a version (a detached signature cannot insert a section).
func SignDetached(bin, existing []byte, key *PrivateKey, opts SignOptions) ([]byte, error) {
	if opts.Version != "" {
		return nil, errors.New("sign: a version needs an embedded signature (the version section must be inside the module)")
	}
	data, _, err := prepareSign(bin, existing, key, opts, true)
	if err != nil {
		return nil, err
	}
	return data.Marshal(), nil
}

// prepareSign parses bin, adds key's signature to the existing signature
// data and returns the data and the canonical body.
func prepareSign(bin, detached []byte, key *PrivateKey, opts SignOptions, isDetached bool) (*wasmsig.Data, *wasmsig.Body, error) {
	if key.Type() != Ed25519 {
		return nil, nil, fmt.Errorf("sign: embedded signatures need an ed25519 key, got %s: the wasmsign2 format defines no other algorithm (sign with --format cosign instead)", key.Type())
	}
	secs, err := wasm.Sections(bin)
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	data := wasmsig.New()
	if len(secs) > 0 && isSignatureSection(&secs[0]) {
		if isDetached {
			return nil, nil, errors.New("sign: the module already has an embedded signature; a detached signature is for unsigned modules")
		}
		if data, err = wasmsig.Parse(secs[0].Data); err != nil {
			return nil, nil, fmt.Errorf("sign: existing %w", err)
		}
		secs = secs[1:]
	}
	if isDetached && len(detached) > 0 {
		if data, err = wasmsig.Parse(detached); err != nil {
			return nil, nil, fmt.Errorf("sign: existing detached %w", err)
		}
	}
	name, version, err := findMeta(secs)
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	var insert []wasm.Section
	for _, m := range []struct {
		what, section, have, want string
		check                     func(string) error
	}{
		{"name", NameSection, name, opts.Name, CheckModuleName},
		{"version", VersionSection, version, opts.Version, func(v string) error { _, err := ParseVersion(v); return err }},
	} {
		if m.want == "" {
			continue
		}
		if err := m.check(m.want); err != nil {
			return nil, nil, fmt.Errorf("sign: %w", err)
		}
		switch {
		case m.have == m.want:
		case m.have != "":
			return nil, nil, fmt.Errorf("sign: the module already carries %s %q, not %q", m.what, m.have, m.want)
		case len(data.Sets) > 0:
			return nil, nil, fmt.Errorf("sign: cannot add a %s to a module that is already signed (it would void the existing signatures); sign the unsigned module with it", m.what)
		case isDetached:
			return nil, nil, fmt.Errorf("sign: a %s needs an embedded signature (the %s section must be inside the module)", m.what, m.section)
		default:
			insert = append(insert, wasm.Section{ID: wasm.SectionCustom, Name: m.section, Data: []byte(m.want)})
		}
	}
	secs = append(insert, secs...)
	body, err := wasmsig.Canonical(secs)
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	if isDetached && !bytes.Equal(body.Bytes, bin[wasm.HeaderSize:]) {
		return nil, nil, errors.New("sign: the module uses non-minimal LEB128 lengths, so a detached signature would not verify; sign it embedded (which rewrites it) or re-encode it first")
	}
	pub := key.Public()
	var keyID []byte
	if !opts.NoKeyID {
		keyID = pub.WasmsigKeyID()
	}
	sig := wasmsig.Signature{KeyID: keyID, Alg: wasmsig.AlgEd25519, Signature: ed25519.Sign(key.signer.(ed25519.PrivateKey), data.Message(body.Hashes))}
	for i := range data.Sets {
		set := &data.Sets[i]
		if !sameHashes(set.Hashes, body.Hashes) {
			continue
		}
		for _, s := range set.Signatures {
			if verifyEd25519(pub.ed25519Key(), data.Message(set.Hashes), s.Signature) {
				return nil, nil, fmt.Errorf("sign: the module is already signed by this key (%s)", pub.Fingerprint())
			}
		}
		set.Signatures = append(set.Signatures, sig)
		return data, body, nil
	}
	data.Sets = append(data.Sets, wasmsig.SignedHashes{Hashes: body.Hashes, Signatures: []wasmsig.Signature{sig}})
	return data, body, nil
}

func isSignatureSection(s *wasm.Section) bool {
	return s.ID == wasm.SectionCustom && s.Name == wasmsig.SectionName
}

func sameHashes(a, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// findMeta returns the contents of the one wasmward.name and the one
// wasmward.version section in secs, "" for one that is absent. A second
// section of either kind, or content that is not a valid name or version,
// is an error.
func findMeta(secs []wasm.Section) (name, version string, err error) {
	seen := map[string]bool{}
	for i := range secs {
		s := &secs[i]
		if s.ID != wasm.SectionCustom || (s.Name != VersionSection && s.Name != NameSection) {
			continue
		}
		if seen[s.Name] {
			return "", "", fmt.Errorf("a second %s section at offset %#x", s.Name, s.Offset)
		}
		seen[s.Name] = true
		v := string(s.Data)
		if s.Name == NameSection {
			if err := CheckModuleName(v); err != nil {
				return "", "", fmt.Errorf("%s section at offset %#x: %w", s.Name, s.Offset, err)
			}
			name = v
			continue
		}
		if _, err := ParseVersion(v); err != nil { // admits only ASCII letters, digits, ".", "-", "+"
			return "", "", fmt.Errorf("%s section at offset %#x: %w", s.Name, s.Offset, err)
		}
		version = v
	}
	return name, version, nil
}

// CheckModuleName refuses a module name that is empty, longer than 256
// bytes, not UTF-8, or holds control characters or white space other than
// plain spaces (names appear in logs, reports and the state file).
func CheckModuleName(n string) error {
	switch {
	case n == "":
		return errors.New("empty module name")
	case len(n) > maxNameLen:
		return fmt.Errorf("module name of %d bytes: at most %d", len(n), maxNameLen)
	case !utf8.ValidString(n):
		return fmt.Errorf("module name %q is not UTF-8", n)
	}
	for _, r := range n {
		if unicode.IsControl(r) || (unicode.IsSpace(r) && r != ' ') {
			return fmt.Errorf("module name %q holds a control or white-space character", n)
		}
	}
	return nil
}

// EmbeddedResult is what VerifyModule found.
type EmbeddedResult struct {
	// Signers are the keys (among those given) with a valid signature over
	// the whole module, each once, in the order of the keys given.
	Signers []*PublicKey
	// Version is the module's signed version ("" when it has none).
	Version string
	// Name is the module's signed name ("" when it has none).
	Name string
	// Signatures is the number of Ed25519 signatures whose hash set covers
	// the whole module; Signatures - len(Signers) of them are by keys not
	// given (or are invalid).
	Signatures int
}

// Verification failure causes, matched with errors.Is on what VerifyModule
// and Policy.Verify return.
var (
	// ErrUnsigned: the module has no signature section (and none was given).
	ErrUnsigned = errors.New("module is not signed")
	// ErrMalformed: the module or the signature data does not parse.
	ErrMalformed = errors.New("malformed module or signature")
	// ErrModified: no signed hash matches the module's content.
	ErrModified = errors.New("module content does not match what was signed")
	// ErrUntrusted: the content matches, but no signature is by a trusted key.
	ErrUntrusted = errors.New("no valid signature by a trusted key")
)

// VerifyModule checks bin's embedded signature (or the detached one, when
// detached is not nil) against keys. It succeeds only when at least one of
// keys signed a hash set whose last hash is the SHA-256 of every byte after
// the signature section (after the header, for a detached signature): the
// whole module, exactly as it is. A signature over a prefix of the module
// (a wasmsign2 partial signature) does not count. A signature that carries a
// key ID is matched only to the key whose default wasmsign2 key ID it is.
func VerifyModule(bin, detached []byte, keys []*PublicKey) (*EmbeddedResult, error) {
	secs, err := wasm.Sections(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var payload []byte
	signedFrom := wasm.HeaderSize
	rest := secs
	switch {
	case detached != nil:
		if len(secs) > 0 && isSignatureSection(&secs[0]) {
			return nil, fmt.Errorf("%w: the module has an embedded signature section and a detached signature was given", ErrMalformed)
		}
		payload = detached
	case len(secs) > 0 && isSignatureSection(&secs[0]):
		payload = secs[0].Data
		signedFrom = secs[0].End()
		rest = secs[1:]
	default:
		for i := range secs {
			if isSignatureSection(&secs[i]) {
				return nil, fmt.Errorf("%w: the signature section is at offset %#x, not first", ErrMalformed, secs[i].Offset)
			}
		}
		return nil, ErrUnsigned
	}
	for i := range rest {
		if isSignatureSection(&rest[i]) {
			return nil, fmt.Errorf("%w: a second signature section at offset %#x", ErrMalformed, rest[i].Offset)
		}
	}
	data, err := wasmsig.Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	name, version, err := findMeta(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	whole := sha256.Sum256(bin[signedFrom:])
	res := &EmbeddedResult{Version: version, Name: name}
	covering := 0
	signed := make([]bool, len(keys))
	keyIDs := make([][]byte, len(keys))
	for i, k := range keys {
		keyIDs[i] = k.WasmsigKeyID()
	}
	checks := checkBudget{what: "signature section"}
	for _, set := range data.Sets {
		if set.Hashes[len(set.Hashes)-1] != whole {
			continue
		}
		covering++
		msg := data.Message(set.Hashes)
		for _, sig := range set.Signatures {
			res.Signatures++
			for i, k := range keys {
				pk := k.ed25519Key()
				// wasmsign2 skips a signature whose key ID differs from the
				// verifier's; a verifier's key ID is the default derivation.
				if pk == nil || signed[i] || len(sig.Signature) != ed25519.SignatureSize || (len(sig.KeyID) > 0 && !bytes.Equal(sig.KeyID, keyIDs[i])) {
					continue
				}
				if err := checks.spend(); err != nil {
					return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
				}
				signed[i] = verifyEd25519(pk, msg, sig.Signature)
			}
		}
	}
	for i, k := range keys {
		if signed[i] {
			res.Signers = append(res.Signers, k)
		}
	}
	switch {
	case len(data.Sets) == 0:
		return nil, fmt.Errorf("%w: the signature section holds no signatures", ErrUnsigned)
	case covering == 0:
		return nil, fmt.Errorf("%w: the SHA-256 of the module after the signature section is in none of the %d signed hash sets (a section was changed, added, removed or reordered after signing, or the file is truncated)", ErrModified, len(data.Sets))
	case len(res.Signers) == 0:
		return nil, fmt.Errorf("%w: %d signature(s) cover this module, none by the %d key(s) given", ErrUntrusted, res.Signatures, len(keys))
	}
	return res, nil
}

// maxSignatureChecks bounds the signature verifications one module or
// envelope may cost. The signature section and the DSSE signature list are
// not signed, so anyone can pad them with up to 64 x 256 (or, for DSSE,
// unboundedly many) bogus signatures, each tried against every trusted key:
// without a bound a 1 MiB section costs seconds of CPU per key. Honest input
// needs at most signers x keys checks.
const maxSignatureChecks = 1024

// checkBudget counts signature verifications against maxSignatureChecks.
type checkBudget struct {
	what string
	n    int
}

func (b *checkBudget) spend() error {
	if b.n >= maxSignatureChecks {
		return fmt.Errorf("%s: more than %d signature checks needed (padded with signatures that do not verify?)", b.what, maxSignatureChecks)
	}
	b.n++
	return nil
}

// ReadMeta returns the name and version a module carries (wasmward.name,
// wasmward.version) without verifying anything: for tools that label what
// they sign, such as attest. Trust decisions use Gate.Admit, which takes
// them only from signed content.
func ReadMeta(bin []byte) (name, version string, err error) {
	secs, err := wasm.Sections(bin)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return findMeta(secs)
}
