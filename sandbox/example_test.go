package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/wasmward/wasmward/policy"
	"github.com/wasmward/wasmward/sandbox"
)

// This example embeds the sandbox: one Runtime per process, a module compiled
// once under a policy, then a fresh instance per Run with its own report.
func Example() {
	ctx := context.Background()

	rt, err := sandbox.New(ctx, sandbox.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	// The default policy is the secure one: a memory cap, a deadline, output
	// caps, no files, no environment. Tighten it further for this guest.
	p := policy.Default()
	p.Limits.Memory = 16 << 20
	p.Limits.Timeout = policy.Duration(2 * time.Second)

	bin, err := os.ReadFile("../examples/hello.wasm")
	if err != nil {
		log.Fatal(err)
	}
	mod, err := rt.Compile(ctx, bin, p)
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close(ctx)

	var stdout bytes.Buffer
	rep, err := mod.Run(ctx, sandbox.Invocation{Name: "hello", Args: []string{"world"}, Stdout: &stdout})
	if err != nil {
		log.Fatal(err) // the host failed; what the guest does is in the report
	}
	fmt.Print(stdout.String())
	fmt.Println("outcome:", rep.Outcome, "exit code:", rep.ExitCode)
	// Output:
	// hello from wasmward
	// arg 1: world
	// outcome: exit exit code: 0
}

// A guest that runs past its deadline is stopped, whatever the shape of its
// code: the report says which limit it hit.
func ExampleModule_Run_timeout() {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	// (module (func (export "_start") (loop (br 0)))): spins forever.
	loop := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
		0x03, 0x02, 0x01, 0x00, // func 0: type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export _start
		0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end end
	}
	p := policy.Default()
	p.Limits.Timeout = policy.Duration(50 * time.Millisecond)
	mod, err := rt.Compile(ctx, loop, p)
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close(ctx)

	rep, err := mod.Run(ctx, sandbox.Invocation{Name: "spin"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Outcome, rep.Violation.Kind)
	// Output:
	// violation timeout
}

// Compile refuses a module before the compiler sees it when it asks for
// something the policy does not grant: here, a host import outside the
// allowlist.
func ExampleRuntime_Compile_refused() {
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	// (module (import "env" "launch_missiles" (func)))
	bin := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
		0x02, 0x17, 0x01, 0x03, 'e', 'n', 'v', 0x0f,
		'l', 'a', 'u', 'n', 'c', 'h', '_', 'm', 'i', 's', 's', 'i', 'l', 'e', 's', 0x00, 0x00,
	}
	_, err = rt.Compile(ctx, bin, policy.Default())
	var refusal *sandbox.Refusal
	if errors.As(err, &refusal) {
		fmt.Println("refused:", refusal.Violation.Kind, "-", refusal.Violation.Detail)
	}
	// Output:
	// refused: import_denied - import env.launch_missiles (func) is not allowed by the policy
}
