//! Health assessment of live objects, pure: JSON in, [`Health`] out.
//!
//! [`assess`] uses a built-in rule when one exists for the object's kind ([`builtin`], Argo CD's
//! gitops-engine rules) and otherwise kstatus's generic computation ([`kstatus()`]) mapped onto
//! Argo's health codes. [`aggregate`] folds many objects' health into one, worst first.
//! See `docs/health.md` for the rules.

mod aggregate;
mod conditions;
mod hook;
mod json;
mod kinds;
mod kstatus;

use lockstep_api::HealthStatusCode;
use serde_json::Value;

pub use aggregate::{IGNORE_HEALTHCHECK_ANNOTATION, aggregate, ignored};
pub use kinds::builtin;
pub use kstatus::{KCondition, KConditionType, KStatus, KStatusResult, kstatus, kstatus_at};

/// Health of one object: a status code and, when not Healthy, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// Argo CD's health code.
    pub status: HealthStatusCode,
    /// Why, when not Healthy.
    pub message: Option<String>,
}

impl Health {
    /// A health with this code and message; an empty message becomes `None`.
    pub fn new(status: HealthStatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        Self { status, message: (!message.is_empty()).then_some(message) }
    }

    /// Healthy with no message.
    pub fn healthy() -> Self {
        Self { status: HealthStatusCode::Healthy, message: None }
    }
}

/// Assesses one live object: its built-in rule if its kind has one, else kstatus's result.
///
/// Never panics: malformed objects get `Unknown` (or whatever kstatus makes of them).
pub fn assess(object: &Value) -> Health {
    builtin(object).unwrap_or_else(|| kstatus(object).into())
}
