package scan

import "sort"

// Rule describes one check. IDs are stable across releases: a rule that
// changes meaning gets a new ID.
type Rule struct {
	ID          string
	Name        string // short kebab-case name, e.g. "import-not-allowed"
	Severity    Severity
	Title       string
	Description string
	Remediation string
}

// Rule IDs.
const (
	RuleDecode            = "WW001"
	RuleValidate          = "WW002"
	RuleUnsupported       = "WW003"
	RuleComponent         = "WW004"
	RuleImportNotAllowed  = "WW101"
	RuleWASICapability    = "WW102"
	RuleMemoryUnbounded   = "WW201"
	RuleMemoryOverLimit   = "WW202"
	RuleSharedMemory      = "WW203"
	RuleStartFunction     = "WW301"
	RuleLargeData         = "WW401"
	RuleHighEntropyData   = "WW402"
	RuleMinerMarker       = "WW403"
	RuleExportedMutGlobal = "WW501"
	RuleExportedTable     = "WW502"
	RuleLargeFunction     = "WW601"
	RuleManyLocals        = "WW602"
	RuleToolchain         = "WW701"
	RuleVulnerable        = "WW702"
	RuleBadMetadata       = "WW703"
	RuleDuplicateMetadata = "WW704"
	// Rules of `wasmward check` (findings added with Result.Add).
	RuleSignature       = "WW801"
	RuleBenchmarkFailed = "WW802"
	RuleFuzzTrap        = "WW811"
	RuleFuzzViolation   = "WW812"
	RuleFuzzInvalidResp = "WW813"
	RuleFuzzExitStatus  = "WW814"
)

var rules = []Rule{
	{RuleDecode, "decode-failed", Critical, "Module does not decode",
		"The bytes are not a well-formed WebAssembly binary: the binary grammar is violated at the given offset (in a core module, a component, or a core module inside a component).",
		"Rebuild the module with a conforming toolchain; do not deploy bytes that fail to decode."},
	{RuleValidate, "validate-failed", Critical, "Module does not validate",
		"The module decodes and uses only proposals wazero implements, but wazero's compiler (with every proposal it implements enabled) rejects it: type errors, invalid indices, or a limitation of the engine.",
		"Rebuild the module with a toolchain and feature set wazero supports."},
	{RuleUnsupported, "unsupported-by-runtime", Medium, "Not supported by the runtime",
		"The module is well-formed but uses a WebAssembly proposal that `wasmward run` does not execute: one wazero does not implement (GC, memory64, multi-memory, relaxed SIMD, legacy exception handling) or one run does not enable (threads). run refuses the module before it starts; other engines may run it.",
		"Rebuild without the proposal (for example wasm-opt --translate-to-exnref for legacy exceptions, or a 32-bit, single-memory target), or run the module on an engine that implements it."},
	{RuleComponent, "component", Medium, "WebAssembly component",
		"The binary is a component (component model, layer 1), not a core module. wasmward decodes its imports, exports and core modules, but `wasmward run` does not run components yet, and the other rules are not applied inside it.",
		"Run a core module build of the program, or a component runtime; review the component's imports and exports listed in the finding."},
	{RuleImportNotAllowed, "import-not-allowed", High, "Import outside the policy's allowlist",
		"The module imports functions, memories, tables or globals that the policy's capabilities.imports patterns do not allow; it will be refused at instantiation. One finding per import module, listing the names; each import's entry is a related location.",
		"Remove the import from the module, or add a pattern for it to capabilities.imports if the host provides it deliberately."},
	{RuleWASICapability, "wasi-capability", Info, "WASI capability requested",
		"The module imports WASI functions that give it a capability (filesystem, sockets, clocks, randomness, process exit, environment).",
		"Check that the policy grants only what the module needs (mounts, env, clock, random)."},
	{RuleMemoryUnbounded, "memory-unbounded", Medium, "Memory without a declared maximum",
		"A memory declares no maximum, so the module may grow it to the engine's limit; only the host's cap bounds it.",
		"Link with a maximum memory (e.g. -Wl,--max-memory=N for clang, or the language's equivalent), and keep the policy's limits.memory."},
	{RuleMemoryOverLimit, "memory-over-limit", High, "Memory size above the policy limit",
		"A memory's declared minimum exceeds the policy's limits.memory, so run refuses to instantiate it (high). A declared maximum above the limit is information only: run instantiates the module and memory.grow fails at the cap.",
		"Lower the module's initial/maximum memory, or raise limits.memory if the workload needs it."},
	{RuleSharedMemory, "shared-memory", High, "Shared memory",
		"The module declares or imports shared memory (threads proposal). Shared memory with atomics gives a guest a high-resolution timer usable for cross-tenant timing side channels. Atomic instructions on memory that is not shared are reported at info severity: no other agent sees that memory.",
		"Build without threads, or scan with --allow-threads when the deployment isolates tenants from timing channels."},
	{RuleStartFunction, "start-function", Low, "Start function present",
		"The module has a start function, which runs during instantiation, before the host calls any export.",
		"Prefer an explicit exported entry point (e.g. _start or _initialize) that the host calls under its limits."},
	{RuleLargeData, "large-data-segment", Medium, "Unusually large data segment",
		"A data segment is larger than the configured bound; large opaque data is a common way to carry a packed payload.",
		"Check what the segment holds; load large assets at run time from a reviewed source instead of embedding them."},
	{RuleHighEntropyData, "high-entropy-data", Medium, "High-entropy data",
		"A run of data-segment bytes has near-random byte entropy, typical of compressed or encrypted payloads that unpack at run time.",
		"Check what the data is; embedded compressed assets should be documented and reviewed."},
	{RuleMinerMarker, "cryptominer-marker", High, "Cryptominer marker",
		"A name or data string matches a known cryptocurrency-miner marker (e.g. cryptonight, coinhive, stratum+tcp).",
		"Do not deploy the module; find out where it came from."},
	{RuleExportedMutGlobal, "exported-mutable-global", Low, "Exported mutable global",
		"A mutable global is exported, so the host or other modules can change module state outside its functions.",
		"Export functions instead of mutable state, unless the host contract needs the global."},
	{RuleExportedTable, "exported-table", Low, "Exported table",
		"A table is exported, so the host or other modules can read or replace the functions it holds.",
		"Do not export tables unless the host contract needs it."},
	{RuleLargeFunction, "large-function", Medium, "Function body over the size bound",
		"A function body is larger than the configured bound; engines reject or compile very large functions slowly (a compile-time denial of service).",
		"Split the function; check the toolchain's inlining settings."},
	{RuleManyLocals, "too-many-locals", Medium, "Function with too many locals",
		"A function declares more locals than the configured bound; engines reject or slow down on such functions.",
		"Reduce the locals (split the function)."},
	{RuleToolchain, "toolchain", Info, "Toolchain",
		"A toolchain, language or SDK version the module records (producers section, Go build info).",
		"Keep toolchains current; check them against their security advisories."},
	{RuleVulnerable, "vulnerable-dependency", High, "Dependency with a known vulnerability",
		"A component found in the module's build info or cargo-auditable data is affected by an advisory in the OSV data given with --osv. The result's severity follows the advisory's rating (unrated advisories count as high).",
		"Upgrade the component to a fixed version and rebuild."},
	{RuleBadMetadata, "malformed-metadata", Medium, "Malformed metadata",
		"A custom section or embedded metadata wasmward reads (name, producers, Go build info, cargo-auditable) is present but malformed or hostile (e.g. a decompression bomb).",
		"Rebuild the module; metadata that does not parse cannot be trusted for inventory."},
	{RuleDuplicateMetadata, "duplicate-metadata-section", Low, "Repeated name or producers section",
		"The module has more than one \"name\" or \"producers\" custom section; each should appear at most once. wasmward reads the first; other tools may read another, so function names and toolchains can differ between reports and stack traces. wazero refuses a module with a second name section (\"redundant custom section name\"), so such a module does not run under wasmward.",
		"Rebuild or re-link the module so that it carries one name and one producers section."},
	{RuleSignature, "signature-verification-failed", Critical, "Signature verification failed",
		"`check --trust` verified the module against the trust policy and it was refused: no valid signature by a trusted key, a k-of-n rule not met, an attestation that does not match, or a version older than one accepted before. run and serve would refuse it (exit 126).",
		"Sign the module with a key the trust policy names (wasmward sign), or fix the trust policy."},
	{RuleBenchmarkFailed, "benchmark-failed", High, "Benchmark run failed",
		"`check --bench` ran the module under its policy (limits on) and a run did not succeed: it was refused, trapped, was stopped for a limit, or exited with a non-zero status.",
		"Run the module with wasmward run under the same policy and fix what stops it."},
	{RuleFuzzTrap, "fuzz-trap", High, "Fuzzing found an input that traps",
		"`check --fuzz` (coverage-guided) found an input that makes the module trap (an out-of-bounds access, unreachable, a division by zero...): a crash any client can trigger, and often a memory-safety bug. The location is the basic block of the original module where it trapped.",
		"Reproduce it with the command in the fuzzer's crash report (wasmward fuzz writes DIR/crashes) and fix the bug."},
	{RuleFuzzViolation, "fuzz-violation", Medium, "Fuzzing found an input that hits a limit",
		"`check --fuzz` found an input that makes the module exceed a limit of its policy (timeout, memory, fuel, call depth, output): a denial of service any client can trigger.",
		"Reproduce it with the fuzzer's command; bound the work per input in the module."},
	{RuleFuzzInvalidResp, "fuzz-invalid-response", Medium, "Fuzzing found an input that yields an invalid WAGI response",
		"`check --fuzz` found a request for which the handler writes a response the gateway refuses (502): a malformed header line, a bad Status, a missing Content-Type.",
		"Reproduce it with the fuzzer's command and fix the handler's response."},
	{RuleFuzzExitStatus, "fuzz-exit-status", Medium, "Fuzzing found an input that makes the module fail",
		"`check --fuzz` found an input after which the module exits with a non-zero status where the target expects success.",
		"Reproduce it with the fuzzer's command; handle the input or reject it with a response."},
}

var ruleByID = func() map[string]*Rule {
	m := make(map[string]*Rule, len(rules))
	for i := range rules {
		m[rules[i].ID] = &rules[i]
	}
	return m
}()

// Rules returns every rule, in ID order.
func Rules() []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LookupRule returns the rule with the given ID.
func LookupRule(id string) (Rule, bool) {
	r, ok := ruleByID[id]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}
