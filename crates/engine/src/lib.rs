//! The sync engine: from rendered manifests to live objects with server-side apply.
//!
//! The thinking is pure ([`target`], [`compare`], [`order`], [`plan`]); [`Engine`] does the kube calls:
//! a dry-run apply per object to learn what the server would store, a read of the live object, and a
//! real apply only for objects that differ.

pub mod annotations;
mod apply;
mod capabilities;
mod catalog;
pub mod compare;
mod crd;
mod engine;
mod error;
mod hook_run;
pub mod hooks;
pub mod ignore;
pub mod inventory;
mod key;
pub mod migrate;
pub mod order;
pub mod plan;
pub mod preview;
mod prune;
pub mod prune_plan;
pub mod replace;
pub mod steps;
mod sync_object;
pub mod target;
pub mod tracking;
mod verified;

pub use capabilities::{Capabilities, discover};
pub use catalog::ResourceCatalog;
pub use engine::{Engine, SyncOptions};
pub use error::{Fault, KindError, ObjectError};
pub use hooks::Phase;
pub use key::ResourceKey;
pub use plan::{Action, HookRun, HookStatus, Progress, ResourceResult, SyncResult, Written};
pub use preview::{Change, ObjectPreview};
pub use tracking::AppRef;
