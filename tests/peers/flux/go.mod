// Pins Flux's source-controller and kustomize-controller, built from their Go
// modules by `cargo xtask bench --peer flux`.
module lockstep.dev/tests/peers/flux

go 1.26.0
