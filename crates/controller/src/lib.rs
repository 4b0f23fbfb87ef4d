//! The lockstep controller: watches Applications and, for each, runs the pipeline
//! fetch → render → plan/apply → assess → report.
//!
//! Decisions (validation, status, events, sync policy) are pure functions in `lockstep_policy`;
//! `reconcile` strings the I/O together; [`run`] wires it into kube-runtime. Destination clusters
//! and their watches are `lockstep_clusters`; ApplicationSets run alongside, from `lockstep_appset`.

mod chart_dependencies;
mod config;
mod context;
mod decryption;
mod dependents;
mod drift;
mod error;
mod fetch;
pub mod finalizer;
mod gates;
mod identity;
mod instrument;
mod kustomize_charts;
mod liveness;
mod lookups;
pub mod metrics;
mod oci_charts;
mod oci_sources;
mod pre_delete;
mod projects;
mod queue_wait;
mod reconcile;
mod run;
mod serve;
mod set_sources;
mod sources;
mod trigger;
mod undecodable;
mod verification;
mod webhook;
mod written_status;

pub use config::ControllerConfig;
pub use error::ControllerError;
pub use metrics::instrumented_client;
pub use run::run;
