//go:build wasip1 || js

package store

import (
	"errors"
	"time"
)

func runTxn(string, bool, time.Duration, func(kvTx) error) error {
	return errors.New("the module store's state database is not available on this platform")
}
