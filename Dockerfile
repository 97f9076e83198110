# wasmward container image: a static binary (no cgo) on an empty base, run as
# a non-root user, working with a read-only root filesystem (docker run
# --read-only, Kubernetes readOnlyRootFilesystem: true). The only writable
# place it needs is the module store volume, /var/lib/wasmward.
#
#   docker build -t wasmward .
#   docker run --read-only -p 8080:8080 -p 127.0.0.1:9090:9090 wasmward
#   docker run --read-only -v $PWD/gateway.yaml:/etc/wasmward/gateway.yaml:ro \
#     -v wasmward-state:/var/lib/wasmward -p 8080:8080 wasmward \
#     serve --config /etc/wasmward/gateway.yaml --listen 0.0.0.0:8080 --admin-listen 0.0.0.0:9090
#
# The same image serves CI use (wasmward check/scan/verify on mounted files):
#   docker run --rm -v $PWD:/work -w /work wasmward check --format sarif app.wasm > check.sarif
# (check --fuzz writes its corpus under the working directory: mount it writable).
# cmd/wasmward's TestContainerImage checks this file against the real CLI.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/wasmward ./cmd/wasmward \
 && mkdir -p /out/var/lib/wasmward/store

FROM scratch
# Root certificates for registries and TLS the network capability verifies.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/wasmward /usr/local/bin/wasmward
COPY --from=build --chown=65532:65532 /out/var/lib/wasmward /var/lib/wasmward
USER 65532:65532
ENV WASMWARD_STORE=/var/lib/wasmward/store
VOLUME ["/var/lib/wasmward"]
# 8080: the public listener; 9090: the admin listener (/healthz, /readyz,
# /metrics, the admin API): keep it off the public network.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/wasmward"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:9090", "--log-format", "json"]
