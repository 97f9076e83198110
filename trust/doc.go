// Package trust decides whether a module's publisher is trusted before the
// module is compiled: keys, signatures, attestations, the trust policy and
// rollback protection.
//
//   - Keys ([GenerateKey], [ParsePrivateKey], [ParsePublicKey]): Ed25519 and
//     ECDSA P-256 and RSA (2048-4096, PKCS#1 v1.5 or PSS), PKCS#8/PKIX PEM, cosign's encrypted private keys, raw
//     wasmsign2 keys. A [PrivateKey] never prints its secret.
//   - Embedded signatures ([SignModule], [SignDetached], [VerifyModule]):
//     the wasmsign2 format (a "signature" custom section first, rolling
//     SHA-256 over the sections after it, Ed25519), several signers, and a
//     signed version in a "wasmward.version" custom section.
//   - Cosign-compatible detached signatures ([SignBlob], [VerifyBlob],
//     [SignBundle], [VerifyBundle]), verified offline with a key.
//   - Signed capability manifests ([Attest], [Policy.VerifyAttestation]):
//     an in-toto Statement v1 in a DSSE envelope whose predicate is the
//     wasmward policy for one exact binary.
//   - The trust policy ([LoadPolicy], [Policy.Verify]): trusted keys, which
//     keys may sign which module names, k-of-n thresholds, whether unsigned
//     modules run.
//   - Rollback protection ([State]): the highest version accepted per module.
//
// [OpenGate] and [Gate.Admit] combine them into the one decision run, serve
// and verify make, including the module's identity: the name signed into it
// (a "wasmward.name" section) or its attestation's subject, the caller's
// name only where the policy allows it. Every refusal is a [*RefusedError]
// whose Reason says why.
package trust
