//! The sync engine: from rendered manifests to live objects with server-side apply.
//!
//! The thinking is pure ([`target`], [`compare`], [`order`], [`plan`]); [`Engine`] does the kube calls:
//! a dry-run apply per object to learn what the server would store, a read of the live object, and a
//! real apply only for objects that differ.

mod catalog;
pub mod compare;
mod engine;
mod error;
pub mod inventory;
mod key;
pub mod order;
pub mod plan;
pub mod target;
pub mod tracking;

pub use catalog::ResourceCatalog;
pub use engine::{Engine, SyncOptions};
pub use error::EngineError;
pub use key::ResourceKey;
pub use plan::{Action, ResourceResult, SyncResult, Written};
pub use tracking::AppRef;
