//! The sync engine: from rendered manifests to live objects with server-side apply.
//!
//! A sync is planned, then carried out. [`Engine::plan`] observes (a read of each live object and a
//! dry-run apply to learn what the server would store) and hands what it saw to the pure
//! [`SyncPlan`] decision: per object create, update, replace, prune, unchanged or skip, with the
//! reason, in waves and hook phases. [`Engine::execute`] writes only what the plan says. The
//! thinking is pure ([`target`], [`compare`], [`order`], [`steps`], [`sync_plan`], [`gates`]).

pub mod annotations;
mod capabilities;
mod catalog;
pub mod compare;
mod crd;
pub mod drift;
mod engine;
mod error;
mod execute;
pub mod gates;
mod hook_run;
pub mod hooks;
pub mod ignore;
pub mod inventory;
mod key;
pub mod migrate;
mod observe;
pub mod order;
pub mod plan;
pub mod pre_delete;
pub mod preview;
mod prune;
pub mod prune_plan;
pub mod replace;
pub mod steps;
mod sync_object;
pub mod sync_plan;
pub mod target;
pub mod tracking;
mod verified;
pub mod watched;

pub use capabilities::{Capabilities, discover};
pub use catalog::ResourceCatalog;
pub use engine::{Engine, SyncOptions};
pub use error::{Fault, KindError, ObjectError};
pub use hooks::Phase;
pub use key::ResourceKey;
pub use lockstep_api::DriftMode;
pub use plan::{Action, HookRun, HookStatus, Progress, ResourceResult, SyncResult, Written};
pub use pre_delete::{PreDeleteOptions, PreDeleteProgress, PreDeleteRun};
pub use preview::{Change, ObjectPreview, previews};
pub use sync_plan::{PlanSummary, Planned, PlannedObject, PlannedStep, SyncPlan};
pub use tracking::AppRef;
pub use verified::LiveVersions;
pub use watched::{WatchedState, WatchedStatus, carries_status};
