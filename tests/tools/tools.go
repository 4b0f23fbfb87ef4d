//go:build tools

// Package tools pins the main packages of the rendering tools so go.mod and
// go.sum record exactly what `cargo xtask tools` builds.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
