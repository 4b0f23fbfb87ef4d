//! lockstep's decisions, as pure functions over data: when a pass may write and what its sync
//! operation records ([`sync_policy`]), what holds its writes ([`hold`]): a pause, dependencies
//! ([`dependencies`]) or sync windows ([`sync_window`]); rollbacks ([`rollback`]), the status it
//! reports ([`status`], [`bounded`]), the Events it publishes ([`events`]), what a sync's result
//! means ([`outcome`]), deleting an Application's objects ([`deletion`]), whether the process is
//! alive ([`liveness`]), what a spec may not say ([`validate`]), what a project allows
//! ([`project`]) and whom an Application deploys as ([`impersonation`]).
//!
//! Nothing here does I/O: the controller gathers the facts and carries the decisions out, and the
//! CLI explains them with the same code.

pub mod bounded;
pub mod deletion;
pub mod dependencies;
pub mod events;
pub mod hold;
pub mod impersonation;
pub mod liveness;
pub mod multi_source;
pub mod outcome;
pub mod project;
pub mod rollback;
pub mod source_status;
pub mod status;
pub mod sync_policy;
pub mod sync_window;
pub mod validate;
pub mod verification;
