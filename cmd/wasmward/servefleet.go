package main

import (
	"context"
	"log/slog"

	"github.com/wasmward/wasmward/gateway"
	"github.com/wasmward/wasmward/internal/deploy"
	"github.com/wasmward/wasmward/internal/deploy/natsstate"
)

// joinFleet opens the fleet's state (the configuration's state:
// nats://...). local, when set, keeps a copy of the records this replica
// writes with the store references its routes hold. leave disconnects.
func joinFleet(ctx context.Context, c gateway.StateConfig, local deploy.Records, logger *slog.Logger) (deploy.Fleet, func(), error) {
	s, err := natsstate.Open(ctx, natsstate.Options{Config: c, Local: local, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	logger.Info("fleet replica", "replica", s.Replica(), "state", c.Server+"/"+c.Bucket, "lease_ttl", c.LeaseTTL)
	return s, s.Close, nil
}
