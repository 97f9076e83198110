package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wasmward/wasmward/internal/oci"
	"github.com/wasmward/wasmward/internal/safetext"
	"github.com/wasmward/wasmward/internal/store"
	"github.com/wasmward/wasmward/trust"
)

// registryFlags are the flags push and pull share to reach a registry.
type registryFlags struct {
	username      string
	passwordStdin bool
	insecure      bool
	dockerConfig  string
}

func (r *registryFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&r.username, "username", "", "registry user name (the password is read from stdin with --password-stdin); default: the docker config file's credentials")
	fl.BoolVar(&r.passwordStdin, "password-stdin", false, "read the registry password from standard input (needs --username)")
	fl.BoolVar(&r.insecure, "insecure", false, "allow plain HTTP to a registry that is not on loopback (loopback registries always may)")
	fl.StringVar(&r.dockerConfig, "registry-config", "", "docker config file with registry credentials (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)")
}

// client builds the registry client. The password is read from stdin
// (first line, at most 4 KiB) and goes nowhere but the registry.
func (r *registryFlags) client(s streams) (*oci.Client, error) {
	if r.passwordStdin != (r.username != "") {
		return nil, usageErr("--username and --password-stdin go together")
	}
	opts := oci.Options{Insecure: r.insecure, DockerConfig: r.dockerConfig, Username: r.username}
	if r.passwordStdin {
		b, err := io.ReadAll(io.LimitReader(s.in, 4097))
		if err != nil {
			return nil, usageErr("--password-stdin: reading standard input: %v", err)
		}
		if len(b) > 4096 {
			return nil, usageErr("--password-stdin: the password is longer than 4096 bytes")
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return nil, usageErr("--password-stdin: standard input is empty")
		}
		opts.Password = pw
	}
	c, err := oci.New(opts)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return c, nil
}

func newPushCmd(s streams) *cobra.Command {
	var rf registryFlags
	var key keyFlags
	var created, author string
	cmd := &cobra.Command{
		Use:   "push MODULE REF",
		Short: "Push a module to an OCI registry (wasm artefact layout), optionally signed",
		Long: `Push MODULE to the OCI registry reference REF (REGISTRY/REPO[:TAG], oci:// optional)
as a wasm artefact: config application/vnd.wasm.config.v0+json, one layer
application/wasm, readable by wkg, runwasi and the oras CLI. Prints the
digest-pinned reference (REGISTRY/REPO@sha256:...) to deploy or pull by.

--key KEY then signs the artefact like 'cosign sign --key' (ECDSA P-256 or RSA;
no transparency log): the signature goes under the tag sha256-HEX.sig, where
'cosign verify --key' and 'wasmward pull --trust' find it. Signatures embedded
in the module (wasmward sign) travel inside it.

Plain HTTP is used only for loopback registries (localhost, 127.0.0.0/8, ::1)
or with --insecure. Credentials: --username with --password-stdin, else the
docker config file ('docker login', 'oras login').`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var when time.Time
			if created != "" {
				t, err := time.Parse(time.RFC3339, created)
				if err != nil {
					return usageErr("--created %q: want an RFC 3339 time (2026-01-02T15:04:05Z)", created)
				}
				when = t
			}
			mod, err := readInput("module", args[0])
			if err != nil {
				return err
			}
			var k *trust.PrivateKey
			if key.path != "" {
				if k, err = key.load(s); err != nil {
					return err
				}
				if k.Type() == trust.Ed25519 {
					return usageErr("push --key: %s is an ed25519 key; cosign-style signatures need ecdsa-p256 or rsa (embed ed25519 signatures with 'wasmward sign' before pushing)", key.path)
				}
			}
			c, err := rf.client(s)
			if err != nil {
				return err
			}
			p, err := c.Push(cmd.Context(), args[1], mod, oci.PushOptions{Created: when, Author: author, Title: filepath.Base(args[0])})
			if err != nil {
				return withCode(exitFailure, err)
			}
			fmt.Fprintf(s.out, "pushed %s (module %s, %d bytes)\n", p.Ref, p.Module, len(mod))
			if k != nil {
				if _, err := c.Sign(cmd.Context(), p.Ref, k); err != nil {
					return withCode(exitFailure, err)
				}
				fmt.Fprintf(s.out, "signed %s (key %s, tag %s)\n", p.Ref, k.Public().Fingerprint(), oci.SignatureTag(p.Manifest))
			}
			return nil
		},
	}
	rf.register(cmd.Flags())
	key.register(cmd.Flags())
	cmd.Flags().Lookup("key").Usage = "sign the pushed artefact cosign-style with this private key (ecdsa-p256 or rsa)"
	cmd.Flags().StringVar(&created, "created", "", "creation time recorded in the artefact (RFC 3339; default now): fix it for reproducible digests")
	cmd.Flags().StringVar(&author, "author", "", "author recorded in the artefact's config")
	return cmd
}

func newPullCmd(s streams) *cobra.Command {
	var rf registryFlags
	var sf storeFlag
	var out, trustFile string
	cmd := &cobra.Command{
		Use:   "pull REF [-o FILE]",
		Short: "Pull a module from an OCI registry into the store or a file",
		Long: `Pull the wasm artefact REF (REGISTRY/REPO[:TAG][@sha256:DIGEST], oci:// optional).
A pinned reference must resolve to exactly that manifest; every blob is checked
against its digest. Without -o the module goes into the module store (--store),
pinned under REF so 'store gc' keeps it (drop it with 'store unpin REF'); with
-o it is written to FILE atomically.

--trust FILE refuses (exit 126, nothing written or stored) an artefact that is
not signed by a key of that trust policy: a cosign-style signature of the
artefact (cosign sign --key, wasmward push --key) that verifies with one of its
ecdsa-p256 or rsa keys, or else signatures embedded in the module that the
policy accepts (the decision 'run --trust' makes). Running or deploying the
module applies the policy's rules to its bytes again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pol *trust.Policy
			if trustFile != "" {
				p, err := trust.LoadPolicy(trustFile)
				if err != nil {
					return withCode(exitUsage, err)
				}
				pol = p
			}
			if out != "" && sf.dir != "" {
				return usageErr("pull: -o and --store are exclusive")
			}
			c, err := rf.client(s)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			art, err := c.Pull(ctx, args[0])
			if err != nil {
				return withCode(exitFailure, err)
			}
			if pol != nil {
				how, err := verifyPulled(ctx, c, art, pol, trustFile)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.err, "verified %s: %s\n", art.Ref, how)
			}
			if out != "" {
				if err := writeOutput(out, art.Module, 0o644); err != nil {
					return withCode(exitFailure, err)
				}
				fmt.Fprintf(s.out, "pulled %s (module %s, %d bytes) to %s\n", art.Ref, art.ModuleDigest, len(art.Module), out)
				return nil
			}
			st, err := sf.open()
			if err != nil {
				return err
			}
			pin := strings.TrimPrefix(args[0], "oci://")
			err = st.Update(ctx, func(tx *store.Tx) error {
				d, err := tx.PutBlob(art.Module)
				if err != nil {
					return err
				}
				return tx.Pin(pin, d)
			})
			if err != nil {
				return withCode(exitFailure, err)
			}
			fmt.Fprintf(s.out, "pulled %s (module %s, %d bytes) into %s, pinned as %s\n", art.Ref, art.ModuleDigest, len(art.Module), st.Dir(), safetext.OneLine(pin))
			return nil
		},
	}
	rf.register(cmd.Flags())
	sf.register(cmd.Flags())
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the module to this file instead of the store")
	cmd.Flags().StringVar(&trustFile, "trust", "", "refuse an artefact not signed by a key of this trust policy (YAML)")
	return cmd
}

// verifyPulled accepts art when oci.VerifyPublisher does (a cosign-style
// signature by a key of pol, or embedded signatures pol accepts). A refusal
// exits 126.
func verifyPulled(ctx context.Context, c *oci.Client, art oci.Artifact, pol *trust.Policy, file string) (string, error) {
	how, err := c.VerifyPublisher(ctx, art, pol)
	switch {
	case err == nil:
		return how, nil
	case errors.Is(err, oci.ErrUnsigned):
		return "", withCode(exitRefused, fmt.Errorf("%w (trust policy %s)", err, file))
	}
	return "", withCode(exitFailure, err)
}
