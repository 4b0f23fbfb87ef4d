//! The lockstep controller: watches Applications and, for each, runs the pipeline
//! fetch → render → plan/apply → assess → report.
//!
//! Decisions (validation, status, events) are pure functions in [`status`], [`validate`] and
//! [`events`]; [`reconcile`] strings the I/O together; [`run`] wires it into kube-runtime.

pub mod cluster_secret;
mod clusters;
mod config;
mod context;
mod error;
pub mod finalizer;
mod identity;
mod instrument;
pub mod kube_metrics;
mod liveness;
mod lookups;
pub mod metrics;
mod notifications;
mod owned;
mod projects;
mod queue_wait;
mod reconcile;
mod run;
mod serve;
mod sources;
mod trigger;
mod undecodable;
mod watches;
mod webhook;

pub use config::ControllerConfig;
pub use error::ControllerError;
pub use kube_metrics::instrumented_client;
pub use run::run;
