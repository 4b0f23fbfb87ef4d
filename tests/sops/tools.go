//go:build tools

// Package tools pins the SOPS and age command-line tools that lockstep's SOPS
// decryption is tested against (test vectors and end-to-end fixtures are
// encrypted by the real sops), built by `cargo xtask tools`.
package tools

import (
	_ "filippo.io/age/cmd/age-keygen"
	_ "github.com/getsops/sops/v3/cmd/sops"
)
