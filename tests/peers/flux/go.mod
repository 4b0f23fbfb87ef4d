// Pins Flux's source-controller and kustomize-controller v1.9.0, the newest pair whose whole
// dependency graph the Go module proxy serves (v1.10.x needs refused modules; docs/benchmarks.md,
// "The Flux peer"). Built by `cargo xtask bench --peer flux` with GOFLAGS=-mod=mod and without
// `go mod tidy` (their test-only imports are refused). The replace directives are copied from
// their own go.mod files: without them the build fails in opencontainers/go-digest/blake3.
module lockstep.dev/tests/peers/flux

go 1.26.0

require (
	github.com/fluxcd/kustomize-controller v1.9.0
	github.com/fluxcd/source-controller v1.9.0
)

replace (
	github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20220411205349-bde1400a84be
	gopkg.in/yaml.v3 => gopkg.in/yaml.v3 v3.0.1
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1
)
