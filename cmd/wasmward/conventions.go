package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/wasmward/wasmward/internal/atomicfile"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/internal/version"
)

// examples are the Example: texts of the commands, by command path. A test
// checks that every command has one.
var examples = map[string]string{
	"wasmward run": `  wasmward run examples/hello.wasm -- world
  wasmward run --memory 16MiB --timeout 500ms --report report.json examples/hello.wasm
  wasmward run --dir ./data:/data:ro --env LANG=C tool.wasm -- /data/in.txt
  wasmward run --invoke add mod.wasm -- 1 2
  wasmward run --trust trust.yaml --state versions.json signed.wasm`,
	"wasmward inspect": `  wasmward inspect examples/hello.wasm
  wasmward inspect --json --top 20 big.wasm`,
	"wasmward scan": `  wasmward scan examples/hello.wasm
  wasmward scan --policy policy.yaml --fail-on medium *.wasm
  wasmward scan --format sarif build/*.wasm > results.sarif`,
	"wasmward bench": `  wasmward bench --iterations 1000 --request get.http handler.wasm
  wasmward bench --invoke fib mod.wasm -- 25
  wasmward bench --request get.http --compare old.wasm --fail-if-slower 5% new.wasm`,
	"wasmward check": `  wasmward check handler.wasm
  wasmward check --policy policy.yaml --trust trust.yaml --osv ./osv --format sarif app.wasm > check.sarif
  wasmward check --bench 1000 --fuzz 300s --format sarif handler.wasm > check.sarif`,
	"wasmward fuzz": `  wasmward fuzz --duration 300s handler.wasm
  wasmward fuzz --target stdin --corpus parser.fuzz -j 2 parser.wasm
  wasmward fuzz --target invoke:decode --seed 7 --executions 100000 lib.wasm`,
	"wasmward sbom": `  wasmward sbom app.wasm
  wasmward sbom --osv ./osv-advisories -o app.cdx.json app.wasm`,
	"wasmward keygen": `  wasmward keygen --output-key-prefix ci
  WASMWARD_KEY_PASSWORD=... wasmward keygen --type ecdsa-p256 --output-key-prefix release`,
	"wasmward sign": `  wasmward sign app.wasm --key ci.key --module-version 1.4.2 -o app.signed.wasm
  wasmward sign app.wasm --key ci.key --detached app.sig
  wasmward sign app.wasm --key release.key --format cosign -o app.wasm.sig --bundle app.wasm.bundle`,
	"wasmward verify": `  wasmward verify app.signed.wasm --trust trust.yaml
  wasmward verify app.signed.wasm --key ci.pub
  wasmward verify app.wasm --format cosign --key release.pub --bundle app.wasm.bundle`,
	"wasmward attest": `  wasmward attest app.wasm --policy app-policy.yaml --key ci.key -o app.intoto.json
  wasmward attest app.wasm --append app.intoto.json --key release.key -o app.intoto.json`,
	"wasmward snapshot": `  wasmward snapshot app.wasm -o app.snap.wasm
  wasmward snapshot app.wasm -o app.snap.wasm --init-func wizer.initialize -r _start=wizer.resume
  wasmward snapshot app.wasm -o app.snap.wasm --policy init.yaml --sign ci.key --attest app.snap.intoto.json`,
	"wasmward events": `  wasmward events examples/count.wasm --source ndjson:events.ndjson --sink ndjson:- --dead-letter ndjson:dead.ndjson
  wasmward events count.wasm --policy events.yaml --source 'nats://127.0.0.1:4222/EVENTS?consumer=count' --sink nats://127.0.0.1:4222/counts --dead-letter nats://127.0.0.1:4222/dead`,
	"wasmward serve": `  wasmward serve
  wasmward serve --config gateway.yaml --trust trust.yaml --log-format json`,
	"wasmward deploy": `  wasmward deploy /api ./api-v2.wasm --token-file admin.token
  wasmward deploy /api/... oci://registry.example/team/api:1.5 --canary 10% --token-file admin.token
  wasmward deploy /api sha256:4f2c... --retry-failed --admin http://10.0.0.5:9090 --token-file admin.token`,
	"wasmward rollback": `  wasmward rollback /api --token-file admin.token`,
	"wasmward alerts": `  wasmward alerts ls --state firing
  wasmward alerts export --prometheus --config gateway.yaml > wasmward-rules.yaml`,
	"wasmward alerts ls": `  wasmward alerts ls
  wasmward alerts ls --state firing --json --admin http://10.0.0.5:9090`,
	"wasmward alerts export": `  wasmward alerts export --prometheus --config gateway.yaml > wasmward-rules.yaml
  promtool check rules wasmward-rules.yaml`,
	"wasmward quarantine": `  wasmward quarantine ls
  wasmward quarantine release 4f2c9a1b7e3d --token-file admin.token`,
	"wasmward quarantine ls":      `  wasmward quarantine ls --json`,
	"wasmward quarantine release": `  wasmward quarantine release 4f2c9a1b7e3d --token-file admin.token`,
	"wasmward status": `  wasmward status
  wasmward status /api --history 20 --json`,
	"wasmward audit": `  wasmward audit verify /var/log/wasmward/audit.log`,
	"wasmward audit verify": `  wasmward audit verify audit.log
  wasmward audit verify --anchor /backup/audit.log.head audit.log`,
	"wasmward version": `  wasmward version
  wasmward --version`,
	"wasmward push": `  wasmward push app.wasm localhost:5000/team/app:v1
  wasmward push app.wasm registry.example/team/app:v1 --key release.key --username ci --password-stdin < token`,
	"wasmward pull": `  wasmward pull localhost:5000/team/app:v1
  wasmward pull registry.example/team/app@sha256:4f1c... --trust trust.yaml -o app.wasm`,
	"wasmward store":    `  wasmward store ls`,
	"wasmward store ls": `  wasmward store ls --store /var/lib/wasmward/store --verify`,
	"wasmward store gc": `  wasmward store gc --dry-run
  wasmward store gc --grace 0`,
	"wasmward store unpin": `  wasmward store unpin localhost:5000/team/app:v1`,
}

// fileFlags are the flags that take a file (or, with a trailing "/", a
// directory) name, by command path: shell completion offers paths for them.
var fileFlags = map[string][]string{
	"wasmward run":                {"policy", "report", "trust", "attestation", "state", "dir/"},
	"wasmward scan":               {"policy", "osv/"},
	"wasmward sbom":               {"osv/", "output"},
	"wasmward bench":              {"policy", "request", "stdin", "compare"},
	"wasmward fuzz":               {"policy", "corpus/"},
	"wasmward check":              {"policy", "trust", "osv/", "corpus/"},
	"wasmward keygen":             {"output-key-prefix"},
	"wasmward sign":               {"key", "output", "detached", "bundle"},
	"wasmward verify":             {"trust", "key", "detached", "sig", "bundle", "attestation"},
	"wasmward attest":             {"policy", "key", "output", "append"},
	"wasmward snapshot":           {"output", "policy", "sign", "attest"},
	"wasmward events":             {"policy"},
	"wasmward serve":              {"config", "audit-log", "compilation-cache/", "trust", "state", "store/"},
	"wasmward deploy":             {"token-file"},
	"wasmward rollback":           {"token-file"},
	"wasmward alerts export":      {"config"},
	"wasmward quarantine release": {"token-file"},
	"wasmward audit verify":       {"anchor"},
	"wasmward push":               {"key", "registry-config"},
	"wasmward pull":               {"output", "trust", "registry-config", "store/"},
	"wasmward store ls":           {"store/"},
	"wasmward store gc":           {"store/"},
	"wasmward store unpin":        {"store/"},
}

// applyConventions gives every command of root its Example, path completion
// for its file flags and the error mapping of RunE (see runFailure). It panics
// on a command or flag the tables name that does not exist, so that a rename
// cannot leave them stale (TestConventions runs it).
func applyConventions(root *cobra.Command) {
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) { warnDeprecated(cmd) }
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if ex, ok := examples[c.CommandPath()]; ok {
			c.Example = ex
		}
		for _, name := range fileFlags[c.CommandPath()] {
			dir := false
			if n := len(name); name[n-1] == '/' {
				name, dir = name[:n-1], true
			}
			if c.Flags().Lookup(name) == nil {
				panic(fmt.Sprintf("%s: no flag --%s to complete", c.CommandPath(), name))
			}
			var err error
			if dir {
				err = c.MarkFlagDirname(name)
			} else {
				err = c.MarkFlagFilename(name)
			}
			if err != nil {
				panic(err)
			}
		}
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error { return runFailure(run(cmd, args)) }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// runFailure maps an error a command returned while doing its work to exit
// status 1 unless it already carries a status: only what fails before the
// work starts (flags, arguments, inputs named on the command line) is a
// usage error (2). A write to a full disk is a failure, not a usage error.
func runFailure(err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return withCode(exitFailure, err)
}

// alias registers old as a deprecated, hidden spelling of the flag named new
// in fs: both set the same value, and using old prints a notice (see
// warnDeprecated). Read whether either was given with changed.
func alias(fs *pflag.FlagSet, old, new string) {
	f := fs.Lookup(new)
	fs.AddFlag(&pflag.Flag{
		Name: old, Usage: f.Usage, Value: f.Value, DefValue: f.DefValue, NoOptDefVal: f.NoOptDefVal,
		Hidden: true, Annotations: map[string][]string{aliasOf: {new}},
	})
}

// warnDeprecated prints one line on stderr for each deprecated flag
// spelling cmd was given.
func warnDeprecated(cmd *cobra.Command) {
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if a := f.Annotations[aliasOf]; len(a) == 1 {
			fmt.Fprintf(cmd.ErrOrStderr(), "wasmward: flag --%s is deprecated and will be removed in the next release: use --%s\n", f.Name, a[0])
		}
	})
}

const aliasOf = "wasmward_alias_of"

// changed reports whether the flag name, or a deprecated alias of it, was set.
func changed(fs *pflag.FlagSet, name string) bool {
	if fs.Changed(name) {
		return true
	}
	found := false
	fs.VisitAll(func(f *pflag.Flag) {
		if a := f.Annotations[aliasOf]; len(a) == 1 && a[0] == name && f.Changed {
			found = true
		}
	})
	return found
}

func newVersionCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of wasmward, the wazero runtime and Go it was built with",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(s.out, version.Read().Long())
			return err
		},
	}
}

// writeOutput writes a file the command produces, atomically: a reader sees
// the old file or the whole new one.
func writeOutput(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
