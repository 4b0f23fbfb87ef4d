//go:build tools

// Package tools pins kwok's main package so go.mod and go.sum record exactly
// what `cargo xtask cluster up` builds.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
