package store

import (
	"errors"
	"time"
)

// kvTx is a transaction of the state database: buckets of key/value pairs.
// kv_bolt.go implements it with go.etcd.io/bbolt; kv_other.go refuses on
// platforms bbolt does not build for (wasip1: wasmward can be compiled to
// WebAssembly and scanned by itself, without a state database).
type kvTx interface {
	writable() bool
	// get returns the value of key in bucket (nil when either is absent),
	// valid only during the transaction.
	get(bucket, key string) []byte
	// put sets key in bucket, creating the bucket.
	put(bucket, key string, value []byte) error
	// del removes key; an absent bucket or key is not an error.
	del(bucket, key string) error
	// forEach calls fn on each pair of bucket (none when it is absent).
	forEach(bucket string, fn func(k, v []byte) error) error
	// nextSequence returns the bucket's next sequence number, creating it.
	nextSequence(bucket string) (uint64, error)
	createBucket(bucket string) error
	// check returns the database's structural problems.
	check() []error
}

var (
	// errLocked: the database's file lock was not obtained in time.
	errLocked = errors.New("state database locked")
	// errOpen wraps a failure to open the database.
	errOpen = errors.New("opening the state database")
)

// runTxn opens the database at path (created if write), runs fn in one
// transaction (committed when fn returns nil and write is set), and closes
// the database. Waiting for the file lock longer than timeout is errLocked.
var _ func(path string, write bool, timeout time.Duration, fn func(kvTx) error) error = runTxn
