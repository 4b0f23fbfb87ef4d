//! High availability: leader election over a `coordination.k8s.io/v1` Lease, so that of several
//! replicas exactly one reconciles and writes, and sharding, so that several leaders split the
//! Applications between them.
//!
//! [`decision`] and [`trouble`] are pure; [`election`] does the I/O; [`shard`] assigns Applications.

pub mod decision;
pub mod election;
mod settings;
pub mod shard;
pub mod trouble;

pub use election::{Election, Leadership, Term};
pub use settings::{InvalidLeaseSettings, LeaseSettings};
pub use shard::Shard;
