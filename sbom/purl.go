package sbom

import packageurl "github.com/package-url/packageurl-go"

// purl returns the package URL of type typ, with every part
// percent-encoded as the purl specification requires (a version's "+"
// becomes %2B, a scope's "@" %40), by the purl reference library.
func purl(typ, namespace, name, version string) string {
	return packageurl.NewPackageURL(typ, namespace, name, version, nil, "").ToString()
}
