//! ApplicationSets: Argo CD's generators and templates, stamping out one Application per
//! parameter set, and the controller loop that keeps the generated Applications as generated.
//!
//! The decisions are pure: [`generate`] (which parameter sets), [`template`] (which
//! Applications), [`set_plan`] (what to create, update and delete), [`rollout`] (which to sync
//! now, for `RollingSync`) and [`status`]. I/O lives in
//! [`reconciler`] and [`run`], and reading git goes through [`generate::GitTrees`], which the
//! controller implements over its shared cache.

pub mod error;
mod fasttemplate;
pub mod generate;
mod git;
mod gotemplate;
pub mod params;
pub mod reconciler;
pub mod rollout;
pub mod run;
mod selector;
pub mod set_plan;
pub mod status;
pub mod template;

pub use error::{AppSetError, GenerateError, TemplateError};
pub use generate::{ClusterInfo, Generated, GitTree, GitTrees, Inputs};
pub use run::{Wiring, concerned_sets, start};
