//! The set's status from how the pass ended and what it owns: pure.
//!
//! Condition types and reasons are Argo's (`ErrorOccurred`, `ParametersGenerated`,
//! `ResourcesUpToDate`), plus `Ready` with the set's generation so that `kubectl wait` and
//! kstatus read it like any other object. A condition keeps its transition time while its status
//! holds, so that a pass that changed nothing writes nothing.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::ResourceExt;
use lockstep_api::{
    APPLICATION_SET_RESOURCES_LISTED, Application, ApplicationSet, ApplicationSetApplicationStatus,
    ApplicationSetResource, ApplicationSetResourceHealth, ApplicationSetStatus, HealthStatusCode,
};

/// Argo's condition types.
pub const ERROR_OCCURRED: &str = "ErrorOccurred";
/// Argo's condition types.
pub const PARAMETERS_GENERATED: &str = "ParametersGenerated";
/// Argo's condition types.
pub const RESOURCES_UP_TO_DATE: &str = "ResourcesUpToDate";
/// True when the set's Applications are as generated.
pub const READY: &str = "Ready";

/// How a pass ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every Application is as generated.
    UpToDate,
    /// The generators failed; nothing was written, and nothing deleted.
    ParamsFailed(String),
    /// The template could not be filled for a parameter set; nothing was written.
    TemplateFailed(String),
    /// Some writes failed or were refused (a name clash); the message names each.
    WritesFailed {
        /// Argo's reason: `CreateApplicationError`, `UpdateApplicationError` or `DeleteApplicationError`.
        reason: &'static str,
        /// What failed.
        message: String,
    },
}

impl Outcome {
    /// Argo's reason for this outcome.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UpToDate => "ApplicationSetUpToDate",
            Self::ParamsFailed(_) => "ApplicationParamsGenerationError",
            Self::TemplateFailed(_) => "ApplicationGenerationFromParamsError",
            Self::WritesFailed { reason, .. } => reason,
        }
    }

    /// What the user reads.
    pub fn message(&self) -> String {
        match self {
            Self::UpToDate => "All applications have been generated successfully".into(),
            Self::ParamsFailed(m) => format!("{m}; the Applications generated before are kept"),
            Self::TemplateFailed(m) => format!("{m}; no Application was created, changed or deleted"),
            Self::WritesFailed { message, .. } => message.clone(),
        }
    }
}

/// The status for `set` after a pass that ended in `outcome`, with `owned` its Applications now.
/// `rollout` is where each Application stands in a `RollingSync` (empty otherwise).
pub fn status(
    set: &ApplicationSet,
    outcome: &Outcome,
    owned: &[Arc<Application>],
    rollout: Vec<ApplicationSetApplicationStatus>,
    now: &Time,
) -> ApplicationSetStatus {
    let previous = set.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let generation = set.metadata.generation;
    let ok = matches!(outcome, Outcome::UpToDate);
    let reason = outcome.reason();
    let message = outcome.message();
    let params_ok = !matches!(outcome, Outcome::ParamsFailed(_));
    let condition = |type_: &str, status: bool, reason: &str, message: &str| {
        let status = if status { "True" } else { "False" };
        let since = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: generation,
            last_transition_time: since,
        }
    };
    let params_message = if params_ok { "Successfully generated parameters for all Applications" } else { &message };
    let conditions = vec![
        condition(ERROR_OCCURRED, !ok, reason, &message),
        condition(
            PARAMETERS_GENERATED,
            params_ok,
            if params_ok { "ParametersGenerated" } else { reason },
            params_message,
        ),
        condition(RESOURCES_UP_TO_DATE, ok, reason, &message),
        condition(READY, ok, reason, &message),
    ];
    let mut owned: Vec<&Arc<Application>> = owned.iter().collect();
    owned.sort_by_key(|app| app.name_any());
    let healthy = owned
        .iter()
        .filter(|app| app.status.as_ref().is_some_and(|s| s.health.status == HealthStatusCode::Healthy))
        .count();
    let resources = owned
        .iter()
        .take(APPLICATION_SET_RESOURCES_LISTED)
        .map(|app| ApplicationSetResource {
            group: lockstep_api::GROUP.into(),
            version: "v1alpha1".into(),
            kind: "Application".into(),
            namespace: app.namespace().unwrap_or_default(),
            name: app.name_any(),
            status: app.status.as_ref().map(|s| s.sync.status).unwrap_or_default(),
            health: app.status.as_ref().map(|s| ApplicationSetResourceHealth { status: s.health.status }),
        })
        .collect();
    ApplicationSetStatus {
        observed_generation: generation,
        conditions,
        resources,
        resources_count: Some(owned.len() as i64),
        healthy_count: Some(healthy as i64),
        application_status: rollout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;
    use lockstep_api::{ApplicationSetSpec, ApplicationStatus, HealthStatus};

    fn set() -> ApplicationSet {
        let mut set = ApplicationSet::new("regions", ApplicationSetSpec::default());
        set.metadata.generation = Some(3);
        set
    }

    fn app(name: &str, health: HealthStatusCode) -> Arc<Application> {
        Arc::new(Application {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("ops".into()), ..Default::default() },
            spec: Default::default(),
            status: Some(ApplicationStatus {
                health: HealthStatus { status: health, message: None },
                ..Default::default()
            }),
        })
    }

    fn time(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn find<'a>(status: &'a ApplicationSetStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn up_to_date_lists_and_counts_in_name_order() {
        let owned = [app("b", HealthStatusCode::Progressing), app("a", HealthStatusCode::Healthy)];
        let status = status(&set(), &Outcome::UpToDate, &owned, Vec::new(), &time(10));
        assert_eq!(status.resources.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!((status.resources_count, status.healthy_count), (Some(2), Some(1)));
        assert_eq!(find(&status, READY).status, "True");
        assert_eq!(find(&status, READY).observed_generation, Some(3));
        assert_eq!(find(&status, ERROR_OCCURRED).status, "False");
        assert_eq!(find(&status, RESOURCES_UP_TO_DATE).reason, "ApplicationSetUpToDate");
    }

    #[test]
    fn failures_name_their_reason_and_keep_transition_times_while_they_hold() {
        let failed = Outcome::ParamsFailed("generators[0]: repository r: unreachable".into());
        let first = status(&set(), &failed, &[], Vec::new(), &time(10));
        assert_eq!(find(&first, ERROR_OCCURRED).status, "True");
        assert_eq!(find(&first, PARAMETERS_GENERATED).status, "False");
        assert_eq!(find(&first, READY).reason, "ApplicationParamsGenerationError");
        assert!(find(&first, READY).message.contains("kept"));
        let mut again = set();
        again.status = Some(first.clone());
        let second = status(&again, &failed, &[], Vec::new(), &time(99));
        assert_eq!(second, first, "the same failure later writes the same status");
        let template =
            status(&again, &Outcome::TemplateFailed("parameter set 1: x".into()), &[], Vec::new(), &time(99));
        assert_eq!(find(&template, PARAMETERS_GENERATED).status, "True");
        assert_eq!(find(&template, PARAMETERS_GENERATED).last_transition_time, time(99));
        assert_eq!(find(&template, READY).last_transition_time, time(10), "Ready stayed False");
    }
}
