package corpus

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas, vendored (testdata/schema/README.md says where from).
//
//go:embed testdata/schema/*.json
var schemaFS embed.FS

var (
	schemaOnce          sync.Once
	sarifSchema, cdxSch *jsonschema.Schema
	schemaErr           error
)

func compileSchemas() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, r := range []struct{ file, url string }{
		{"sarif-schema-2.1.0.json", "https://json.schemastore.org/sarif-2.1.0.json"},
		{"bom-1.6.schema.json", "http://cyclonedx.org/schema/bom-1.6.schema.json"},
		{"spdx.schema.json", "http://cyclonedx.org/schema/spdx.schema.json"},
		{"jsf-0.82.schema.json", "http://cyclonedx.org/schema/jsf-0.82.schema.json"},
	} {
		b, err := schemaFS.ReadFile("testdata/schema/" + r.file)
		if err != nil {
			schemaErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			schemaErr = fmt.Errorf("schema %s: %w", r.file, err)
			return
		}
		if err := c.AddResource(r.url, doc); err != nil {
			schemaErr = fmt.Errorf("schema %s: %w", r.file, err)
			return
		}
	}
	if sarifSchema, schemaErr = c.Compile("https://json.schemastore.org/sarif-2.1.0.json"); schemaErr != nil {
		return
	}
	cdxSch, schemaErr = c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
}

func validate(sch **jsonschema.Schema, doc []byte) error {
	schemaOnce.Do(compileSchemas)
	if schemaErr != nil {
		return fmt.Errorf("compiling the schemas: %w", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return (*sch).Validate(inst)
}

// ValidateCycloneDX checks a CycloneDX document against the CycloneDX 1.6
// JSON schema (with the SPDX licence and JSF schemas it references).
func ValidateCycloneDX(doc []byte) error { return validate(&cdxSch, doc) }

// ValidateSARIF checks a SARIF log against the SARIF 2.1.0 JSON schema and
// the URI rules of Microsoft's SARIF Multitool that concern artifact
// locations:
//
//   - SARIF1002 (urisMustBeValid): every "uri" is an RFC 3986 URI or
//     relative reference: only unreserved, reserved and percent-encoded
//     characters, every "%" followed by two hex digits.
//   - SARIF1004 (expressUriBaseIdsCorrectly): an artifact location with a
//     uriBaseId has a relative reference as uri, and the id is defined in
//     run.originalUriBaseIds; every originalUriBaseIds uri is absolute, ends
//     with "/", and has no query or fragment.
//
// and wasmward's own: an artifact location without a uriBaseId is an
// absolute file:// URI in the conventional "file:///" form.
func ValidateSARIF(doc []byte) error {
	return errors.Join(validate(&sarifSchema, doc), checkSARIFURIs(doc))
}

var uriChars = regexp.MustCompile(`^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*$`)

func checkURI(u string) error {
	if !uriChars.MatchString(u) {
		return fmt.Errorf("SARIF1002: %q is not a valid URI (characters outside RFC 3986 or a bad percent-encoding)", u)
	}
	if strings.Count(u, "#") > 1 {
		return fmt.Errorf("SARIF1002: %q has more than one \"#\"", u)
	}
	if _, err := url.Parse(u); err != nil {
		return fmt.Errorf("SARIF1002: %q: %w", u, err)
	}
	return nil
}

func checkSARIFURIs(doc []byte) error {
	var log struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := jsonUnmarshal(doc, &log); err != nil {
		return err
	}
	var errs []error
	for ri, run := range log.Runs {
		bases := map[string]bool{}
		if obu, ok := run["originalUriBaseIds"].(map[string]any); ok {
			ids := make([]string, 0, len(obu))
			for id := range obu {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				bases[id] = true
				loc, _ := obu[id].(map[string]any)
				u, ok := loc["uri"].(string)
				if !ok {
					continue // a base the consumer supplies
				}
				pu, err := url.Parse(u)
				switch {
				case checkURI(u) != nil:
					errs = append(errs, fmt.Errorf("run %d originalUriBaseIds[%s]: %w", ri, id, checkURI(u)))
				case err != nil || !pu.IsAbs() || !strings.HasSuffix(u, "/") || pu.RawQuery != "" || pu.Fragment != "":
					errs = append(errs, fmt.Errorf("SARIF1004: run %d originalUriBaseIds[%s] = %q: want an absolute URI ending in \"/\" without query or fragment", ri, id, u))
				}
			}
		}
		walkLocations(run, func(path string, loc map[string]any) {
			u, _ := loc["uri"].(string)
			if err := checkURI(u); err != nil {
				errs = append(errs, fmt.Errorf("run %d %s: %w", ri, path, err))
				return
			}
			pu, _ := url.Parse(u)
			if base, ok := loc["uriBaseId"].(string); ok {
				if pu.IsAbs() || strings.HasPrefix(u, "/") {
					errs = append(errs, fmt.Errorf("SARIF1004: run %d %s: uri %q has uriBaseId %q but is not a relative reference", ri, path, u, base))
				}
				if !bases[base] {
					errs = append(errs, fmt.Errorf("SARIF1004: run %d %s: uriBaseId %q is not in run.originalUriBaseIds", ri, path, base))
				}
				return
			}
			if pu.Scheme != "file" || !strings.HasPrefix(u, "file:///") {
				errs = append(errs, fmt.Errorf("run %d %s: uri %q has no uriBaseId and is not an absolute file:/// URI", ri, path, u))
			}
		})
	}
	return errors.Join(errs...)
}

// walkLocations calls f for every artifactLocation object under v (and the
// location of every artifact), with a JSON-path-like description.
func walkLocations(v any, f func(path string, loc map[string]any)) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "originalUriBaseIds" {
					continue
				}
				p := path + "." + k
				if loc, ok := x[k].(map[string]any); ok && (k == "artifactLocation" || (k == "location" && strings.Contains(path, "artifacts"))) {
					if _, has := loc["uri"]; has {
						f(p, loc)
					}
				}
				walk(p, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", v)
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return nil
}
