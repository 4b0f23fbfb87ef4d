// Pins Flux's source-controller and kustomize-controller (the newest release the Go module
// proxy lists, both v1.10.1), built by `cargo xtask bench --peer flux` with GOTOOLCHAIN=go1.27.3
// (they require go >= 1.27.0). go.sum holds only what a build could download: `go mod tidy` cannot complete here because the
// proxy refuses some of their dependencies; see docs/benchmarks.md, "The Flux peer".
module lockstep.dev/tests/peers/flux

go 1.27.0

require (
	github.com/fluxcd/kustomize-controller v1.10.1
	github.com/fluxcd/source-controller v1.10.1
)
