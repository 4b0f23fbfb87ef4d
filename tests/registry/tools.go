//go:build tools

// Package tools pins the CNCF distribution registry the OCI end-to-end tests
// push charts and artifacts to, built by `cargo xtask tools`.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)
