//! `v1` Pod: by phase. Long-running pods (restartPolicy Always, or the
//! `argocd.argoproj.io/ignore-restart-policy: "true"` annotation on a non-hook pod) are Degraded
//! when a container waits on an error or back-off, Healthy when Ready. Pods meant to finish
//! (OnFailure, Never) stay Progressing while Running, so sync hooks are not failed early.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::conditions::status_conditions;
use crate::hook::is_hook;
use crate::json::{Res, annotation, strict_array, strict_int, strict_present_object, strict_str};

/// Argo CD's opt-in for treating a Never/OnFailure pod like a long-running one.
const IGNORE_RESTART_POLICY: &str = "argocd.argoproj.io/ignore-restart-policy";

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("Pod", "", version));
    }
    let policy = strict_str(obj, &["spec", "restartPolicy"])?.unwrap_or("");
    let ignore_policy = annotation(obj, IGNORE_RESTART_POLICY)? == Some("true") && !is_hook(obj);
    let long_running = policy == "Always" || ignore_policy;
    let containers = strict_array(obj, &["status", "containerStatuses"])?;
    let message = strict_str(obj, &["status", "message"])?.unwrap_or("");

    if long_running {
        let mut waiting_errors = Vec::new();
        for ctr in containers {
            if strict_present_object(ctr, &["state", "waiting"])? {
                let reason = strict_str(ctr, &["state", "waiting", "reason"])?.unwrap_or("");
                if reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff") {
                    waiting_errors.push(strict_str(ctr, &["state", "waiting", "message"])?.unwrap_or(""));
                }
            }
        }
        if !waiting_errors.is_empty() {
            return Ok(Health::new(Degraded, waiting_errors.join(", ")));
        }
    }

    match strict_str(obj, &["status", "phase"])?.unwrap_or("") {
        "Pending" => Ok(Health::new(Progressing, message)),
        "Succeeded" => Ok(Health::new(Healthy, message)),
        "Failed" => {
            if !message.is_empty() {
                return Ok(Health::new(Degraded, message));
            }
            let init = strict_array(obj, &["status", "initContainerStatuses"])?;
            for ctr in init.iter().chain(containers) {
                if let Some(msg) = failure_message(ctr)? {
                    return Ok(Health::new(Degraded, msg));
                }
            }
            Ok(Health::new(Degraded, ""))
        }
        "Running" if long_running => {
            let ready = status_conditions(obj)?.iter().any(|c| c.is("Ready", "True"));
            if ready {
                return Ok(Health::new(Healthy, message));
            }
            for ctr in containers {
                if strict_present_object(ctr, &["lastState", "terminated"])? {
                    return Ok(Health::new(Degraded, message));
                }
            }
            Ok(Health::new(Progressing, message))
        }
        "Running" if policy == "OnFailure" || policy == "Never" => Ok(Health::new(Progressing, message)),
        _ => Ok(Health::new(Unknown, message)),
    }
}

/// Why a terminated container failed, if it did.
fn failure_message(ctr: &Value) -> Res<Option<String>> {
    if !strict_present_object(ctr, &["state", "terminated"])? {
        return Ok(None);
    }
    let msg = strict_str(ctr, &["state", "terminated", "message"])?.unwrap_or("");
    if !msg.is_empty() {
        return Ok(Some(msg.to_string()));
    }
    let reason = strict_str(ctr, &["state", "terminated", "reason"])?.unwrap_or("");
    if reason == "OOMKilled" {
        return Ok(Some(reason.to_string()));
    }
    let code = strict_int(ctr, &["state", "terminated", "exitCode"])?.unwrap_or(0);
    if code != 0 {
        let name = strict_str(ctr, &["name"])?.unwrap_or("");
        return Ok(Some(format!("container {name:?} failed with exit code {code}")));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn running(policy: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"annotations": annotations},
            "spec": {"restartPolicy": policy},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    #[test]
    fn restart_policy_decides_running() {
        let always = health(&running("Always", json!({})), "v1").expect("ok");
        assert_eq!(always.status, Healthy);
        let never = health(&running("Never", json!({})), "v1").expect("ok");
        assert_eq!(never.status, Progressing);
        let ignored = json!({IGNORE_RESTART_POLICY: "true"});
        assert_eq!(health(&running("Never", ignored), "v1").expect("ok").status, Healthy);
        let hook = json!({IGNORE_RESTART_POLICY: "true", "argocd.argoproj.io/hook": "PostSync"});
        assert_eq!(health(&running("Never", hook), "v1").expect("ok").status, Progressing);
    }

    #[test]
    fn failed_pod_reports_container_exit() {
        let obj = json!({"status": {"phase": "Failed", "containerStatuses": [
            {"name": "main", "state": {"terminated": {"exitCode": 2}}}]}});
        let h = health(&obj, "v1").expect("ok");
        assert_eq!(h.status, Degraded);
        assert_eq!(h.message.as_deref(), Some("container \"main\" failed with exit code 2"));
    }
}
