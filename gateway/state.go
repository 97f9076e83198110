package gateway

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"time"
)

// StateConfig is where the deployment state lives (the configuration's
// state key). The zero value is the gateway's own module store (or
// memory); a NATS URL makes the gateway one replica of a fleet whose
// desired route versions live in a JetStream key-value bucket (see
// docs/deploy.md, "Fleet").
type StateConfig struct {
	// URL is the key as written (it holds no credentials: they are refused).
	URL string
	// Server is the NATS server's URL (nats://HOST:PORT), Bucket the
	// key-value bucket's name.
	Server string
	Bucket string
	// LeaseTTL is how long the rollout lease lasts without a renewal
	// (?lease_ttl=, default DefaultLeaseTTL).
	LeaseTTL time.Duration
	// Replica names this gateway in the bucket (?replica=); "" lets the
	// gateway choose (host name and process ID).
	Replica string
	// Creds is a NATS credentials file (?creds=, an absolute path): the
	// way to authenticate, since the URL may hold no secret.
	Creds string
}

// Shared reports whether the state is a fleet's shared bucket.
func (s StateConfig) Shared() bool { return s.Server != "" }

// DefaultLeaseTTL is the rollout lease's lifetime when the state URL does
// not say.
const DefaultLeaseTTL = 10 * time.Second

var (
	bucketName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	replicaName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// ParseState parses the state key: "" (the local store) or
// nats://HOST:PORT/BUCKET[?lease_ttl=DURATION&replica=NAME&creds=FILE].
func ParseState(s string) (StateConfig, error) {
	if s == "" {
		return StateConfig{}, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "nats" || u.Opaque != "" {
		return StateConfig{}, fmt.Errorf("%q is not nats://HOST:PORT/BUCKET", s)
	}
	if u.User != nil {
		return StateConfig{}, fmt.Errorf("nats://%s/...: credentials in the state URL are refused (they would end up in logs)", u.Host)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return StateConfig{}, fmt.Errorf("%q: the server must be HOST:PORT", s)
	}
	bucket := u.Path
	if len(bucket) > 0 && bucket[0] == '/' {
		bucket = bucket[1:]
	}
	if !bucketName.MatchString(bucket) {
		return StateConfig{}, fmt.Errorf("%q: the bucket name %q must be 1 to 64 letters, digits, '-' or '_'", s, bucket)
	}
	c := StateConfig{URL: s, Server: "nats://" + u.Host, Bucket: bucket, LeaseTTL: DefaultLeaseTTL}
	for k, v := range u.Query() {
		switch k {
		case "lease_ttl":
			d, err := time.ParseDuration(v[len(v)-1])
			if err != nil || d < 500*time.Millisecond || d > 10*time.Minute {
				return StateConfig{}, fmt.Errorf("%q: lease_ttl %q is not a duration from 500ms to 10m", s, v[len(v)-1])
			}
			c.LeaseTTL = d
		case "replica":
			if !replicaName.MatchString(v[len(v)-1]) {
				return StateConfig{}, fmt.Errorf("%q: replica %q must be 1 to 64 letters, digits, '.', '-' or '_'", s, v[len(v)-1])
			}
			c.Replica = v[len(v)-1]
		case "creds":
			if !filepath.IsAbs(v[len(v)-1]) {
				return StateConfig{}, fmt.Errorf("%q: creds %q must be an absolute path", s, v[len(v)-1])
			}
			c.Creds = v[len(v)-1]
		default:
			return StateConfig{}, fmt.Errorf("%q: unknown parameter %q (lease_ttl, replica, creds)", s, k)
		}
	}
	return c, nil
}
