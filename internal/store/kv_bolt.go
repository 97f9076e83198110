//go:build !wasip1 && !js

package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

func runTxn(path string, write bool, timeout time.Duration, fn func(kvTx) error) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: !write})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return errLocked
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errOpen, err)
	}
	defer db.Close()
	run := func(tx *bolt.Tx) error { return fn(boltTx{tx}) }
	if write {
		return db.Update(run)
	}
	return db.View(run)
}

type boltTx struct{ tx *bolt.Tx }

func (b boltTx) writable() bool { return b.tx.Writable() }

func (b boltTx) get(bucket, key string) []byte {
	if bk := b.tx.Bucket([]byte(bucket)); bk != nil {
		return bk.Get([]byte(key))
	}
	return nil
}

func (b boltTx) put(bucket, key string, value []byte) error {
	bk, err := b.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	return bk.Put([]byte(key), value)
}

func (b boltTx) del(bucket, key string) error {
	if bk := b.tx.Bucket([]byte(bucket)); bk != nil {
		return bk.Delete([]byte(key))
	}
	return nil
}

func (b boltTx) forEach(bucket string, fn func(k, v []byte) error) error {
	if bk := b.tx.Bucket([]byte(bucket)); bk != nil {
		return bk.ForEach(fn)
	}
	return nil
}

func (b boltTx) nextSequence(bucket string) (uint64, error) {
	bk, err := b.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return 0, err
	}
	return bk.NextSequence()
}

func (b boltTx) createBucket(bucket string) error {
	_, err := b.tx.CreateBucketIfNotExists([]byte(bucket))
	return err
}

func (b boltTx) check() []error {
	var errs []error
	for err := range b.tx.Check() {
		errs = append(errs, err)
	}
	return errs
}
