//! The lockstep controller: watches Applications and, for each, runs the pipeline
//! fetch → render → plan/apply → assess → report.
//!
//! Decisions (validation, status, events) are pure functions in [`status`], [`validate`] and
//! [`events`]; [`reconcile`] strings the I/O together; [`run`] wires it into kube-runtime.

pub mod bounded;
pub mod cluster_secret;
mod clusters;
mod config;
mod context;
mod error;
pub mod events;
pub mod finalizer;
pub mod impersonation;
mod instrument;
pub mod kube_metrics;
pub mod leader;
mod lease_trouble;
mod liveness;
pub mod metrics;
mod notifications;
mod owned;
pub mod policy;
pub mod project;
mod projects;
mod queue_wait;
mod reconcile;
pub mod rendering;
mod run;
mod serve;
pub mod shard;
mod sources;
pub mod status;
mod trigger;
mod undecodable;
pub mod validate;
mod watches;
mod webhook;

pub use config::ControllerConfig;
pub use error::ControllerError;
pub use kube_metrics::instrumented_client;
pub use run::run;
