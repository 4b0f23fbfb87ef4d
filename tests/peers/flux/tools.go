//go:build tools

// Package tools pins Flux's source-controller and kustomize-controller, the
// peer that `cargo xtask bench --peer flux` runs beside lockstep.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
