//! The peers `--peer` can name, and getting one ready to run (see [`super::flux`]).

use anyhow::Result;
use clap::ValueEnum;

use super::flux::{self, FluxBuild};
use crate::Workspace;

/// A peer that `--peer` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// Flux's source-controller and kustomize-controller.
    Flux,
}

/// Builds (or reuses) the peer's binaries and finds its CRDs.
pub fn prepare(ws: &Workspace, peer: Peer) -> Result<FluxBuild> {
    match peer {
        Peer::Flux => flux::build(ws),
    }
}
