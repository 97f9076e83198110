package snapshot

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/wasmward/wasmward/internal/digest"
	"github.com/wasmward/wasmward/internal/version"
)

// Provenance types: a snapshot's attestation is an in-toto statement with
// a SLSA provenance v1 predicate whose build type is BuildType.
const (
	ProvenanceType = "https://slsa.dev/provenance/v1"
	BuildType      = "https://wasmward.dev/snapshot/v1"
	builderID      = "https://wasmward.dev/snapshot"
)

// Provenance returns the SLSA provenance v1 predicate (JSON) of a
// snapshot: the input module (inputName, the SHA-256 of input) as its one
// resolved dependency (the material), and as external parameters the init
// export called, the renames, whether the init export was kept, and the
// policy the initialisation ran under. Its output is deterministic for
// the same arguments.
func Provenance(r *Result, inputName string, input []byte, opts Options) (json.RawMessage, error) {
	type dep struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	renames := []string{}
	for _, dst := range slices.Sorted(maps.Keys(opts.Renames)) {
		renames = append(renames, dst+"="+opts.Renames[dst])
	}
	pred := map[string]any{
		"buildDefinition": map[string]any{
			"buildType": BuildType,
			"externalParameters": map[string]any{
				"initFunc":     r.InitFunc,
				"renames":      renames,
				"keepInitFunc": opts.KeepInitFunc,
				"policy":       r.Policy,
			},
			"resolvedDependencies": []dep{{Name: inputName, Digest: map[string]string{"sha256": digest.SHA256Hex(input)}}},
		},
		"runDetails": map[string]any{
			"builder": map[string]any{"id": builderID, "version": map[string]string{"wasmward": version.Read().String()}},
			"metadata": map[string]any{
				"memoryPages": r.MemoryPages,
				"segments":    r.Segments,
				"fuelUsed":    r.Init.FuelUsed,
			},
		},
	}
	b, err := json.Marshal(pred)
	if err != nil {
		return nil, fmt.Errorf("snapshot: encode provenance: %w", err)
	}
	return b, nil
}
