//! kstatus's per-kind rules ("legacy types"): core kinds that do not use standard conditions.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::KStatusResult;
use crate::conditions::status_conditions;
use crate::json::{Res, lenient_int, lenient_str, nested, nested_int64};

/// A per-kind rule; `now` only matters to Pending pods.
pub(super) type Rule = fn(&Value, Timestamp) -> Res<KStatusResult>;

/// How long a pod may stay unscheduled before it counts as unschedulable.
const SCHEDULE_WINDOW: SignedDuration = SignedDuration::from_secs(15);

/// The rule for a group and kind, as kstatus keys them ("Kind" for the core group).
pub(super) fn for_kind(group: &str, kind: &str) -> Option<Rule> {
    let rule: Rule = match (group, kind) {
        ("", "Service") => service,
        ("", "Pod") => pod,
        ("", "Secret" | "ConfigMap") | ("batch", "CronJob") => always_ready,
        ("", "PersistentVolumeClaim") => pvc,
        ("apps", "StatefulSet") => statefulset,
        ("apps" | "extensions", "DaemonSet") => daemonset,
        ("apps" | "extensions", "Deployment") => deployment,
        ("apps" | "extensions", "ReplicaSet") => replicaset,
        ("policy", "PodDisruptionBudget") => pdb,
        ("batch", "Job") => job,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd,
        _ => return None,
    };
    Some(rule)
}

fn int(obj: &Value, path: &str, default: i64) -> i64 {
    let fields: Vec<&str> = path.split('.').collect();
    lenient_int(obj, &fields, default)
}

fn always_ready(_: &Value, _: Timestamp) -> Res<KStatusResult> {
    Ok(KStatusResult::current("Resource is always ready"))
}

/// StatefulSets set no conditions: replicas, partition and revisions decide.
fn statefulset(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    if lenient_str(obj, &["spec", "updateStrategy", "type"], "") == "OnDelete" {
        return Ok(KStatusResult::current("StatefulSet is using the ondelete update strategy"));
    }
    let spec = int(obj, "spec.replicas", 1);
    let ready = int(obj, "status.readyReplicas", 0);
    let current = int(obj, "status.currentReplicas", 0);
    let updated = int(obj, "status.updatedReplicas", 0);
    let replicas = int(obj, "status.replicas", 0);
    let partition = int(obj, "spec.updateStrategy.rollingUpdate.partition", -1);
    if spec > replicas {
        return Ok(KStatusResult::in_progress("LessReplicas", format!("Replicas: {replicas}/{spec}")));
    }
    if spec > ready {
        return Ok(KStatusResult::in_progress("LessReady", format!("Ready: {ready}/{spec}")));
    }
    if replicas > spec {
        let msg = format!("Pending termination: {}", replicas.saturating_sub(spec));
        return Ok(KStatusResult::in_progress("ExtraPods", msg));
    }
    if partition != -1 {
        if updated < spec.saturating_sub(partition) {
            let msg = format!("updated: {updated}/{}", spec.saturating_sub(partition));
            return Ok(KStatusResult::in_progress("PartitionRollout", msg));
        }
        let msg = format!("Partition rollout complete. updated: {updated}");
        return Ok(KStatusResult::current(msg));
    }
    if spec > current {
        return Ok(KStatusResult::in_progress("LessCurrent", format!("current: {current}/{spec}")));
    }
    let current_rev = lenient_str(obj, &["status", "currentRevision"], "");
    let update_rev = lenient_str(obj, &["status", "updateRevision"], "");
    if current_rev != update_rev {
        let msg = "Waiting for updated revision to match current";
        return Ok(KStatusResult::in_progress("RevisionMismatch", msg));
    }
    let msg = format!("All replicas scheduled as expected. Replicas: {replicas}");
    Ok(KStatusResult::current(msg))
}

/// Deployments: the progress deadline, replica counts, then the Progressing/Available conditions.
fn deployment(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    // Without progressDeadlineSeconds the controller never sets Progressing.
    let mut progressing = int(obj, "spec.progressDeadlineSeconds", i64::from(i32::MAX)) == i64::from(i32::MAX);
    let mut available = false;
    for c in status_conditions(obj)? {
        match c.type_ {
            "Progressing" if c.reason == "ProgressDeadlineExceeded" => {
                let mut result = KStatusResult::failed(c.reason, c.message);
                result.message = "Progress deadline exceeded".into();
                return Ok(result);
            }
            "Progressing" => progressing |= c.status == "True" && c.reason == "NewReplicaSetAvailable",
            "Available" => available |= c.status == "True",
            _ => {}
        }
    }
    let spec = int(obj, "spec.replicas", 1);
    let replicas = int(obj, "status.replicas", 0);
    let updated = int(obj, "status.updatedReplicas", 0);
    let ready = int(obj, "status.readyReplicas", 0);
    let avail = int(obj, "status.availableReplicas", 0);
    let in_progress = |reason: &str, msg: String| Ok(KStatusResult::in_progress(reason, msg));
    if spec > replicas {
        return in_progress("LessReplicas", format!("Replicas: {replicas}/{spec}"));
    }
    if spec > updated {
        return in_progress("LessUpdated", format!("Updated: {updated}/{spec}"));
    }
    if replicas > spec {
        return in_progress("ExtraPods", format!("Pending termination: {}", replicas.saturating_sub(spec)));
    }
    if updated > avail {
        return in_progress("LessAvailable", format!("Available: {avail}/{updated}"));
    }
    if spec > ready {
        return in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if !progressing {
        return in_progress("ReplicaSetNotAvailable", "ReplicaSet not Available".into());
    }
    if !available {
        return in_progress("DeploymentNotAvailable", "Deployment not Available".into());
    }
    let msg = format!("Deployment is available. Replicas: {replicas}");
    Ok(KStatusResult::current(msg))
}

/// ReplicaSets: a true ReplicaFailure condition, then labelled/available/ready counts.
fn replicaset(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    if status_conditions(obj)?.iter().any(|c| c.is("ReplicaFailure", "True")) {
        let msg = "Replica Failure condition. Check Pods";
        return Ok(KStatusResult::in_progress("ReplicaFailure", msg));
    }
    let spec = int(obj, "spec.replicas", 1);
    let replicas = int(obj, "status.replicas", 0);
    let ready = int(obj, "status.readyReplicas", 0);
    let avail = int(obj, "status.availableReplicas", 0);
    let labelled = int(obj, "status.fullyLabeledReplicas", 0);
    let in_progress = |reason: &str, msg: String| Ok(KStatusResult::in_progress(reason, msg));
    if spec > labelled {
        return in_progress("LessLabelled", format!("Labelled: {labelled}/{spec}"));
    }
    if spec > avail {
        return in_progress("LessAvailable", format!("Available: {avail}/{spec}"));
    }
    if spec > ready {
        return in_progress("LessReady", format!("Ready: {ready}/{spec}"));
    }
    if replicas > spec {
        return in_progress("ExtraPods", format!("Pending termination: {}", replicas.saturating_sub(spec)));
    }
    Ok(KStatusResult::current(format!("ReplicaSet is available. Replicas: {replicas}")))
}

/// DaemonSets: generation and observedGeneration must be set, then scheduled/updated/ready counts.
fn daemonset(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    let kind = lenient_str(obj, &["kind"], "");
    if nested_int64(obj, &["metadata", "generation"])?.is_none() {
        let msg = format!("{kind} metadata.generation not found");
        return Ok(KStatusResult::in_progress("NoGeneration", msg));
    }
    if nested_int64(obj, &["status", "observedGeneration"])?.is_none() {
        let msg = format!("{kind} status.observedGeneration not found");
        return Ok(KStatusResult::in_progress("NoObservedGeneration", msg));
    }
    let desired = int(obj, "status.desiredNumberScheduled", -1);
    let current = int(obj, "status.currentNumberScheduled", 0);
    let updated = int(obj, "status.updatedNumberScheduled", 0);
    let avail = int(obj, "status.numberAvailable", 0);
    let ready = int(obj, "status.numberReady", 0);
    let in_progress = |reason: &str, msg: String| Ok(KStatusResult::in_progress(reason, msg));
    if desired == -1 {
        return in_progress("NoDesiredNumber", "Missing .status.desiredNumberScheduled".into());
    }
    if desired > current {
        return in_progress("LessCurrent", format!("Current: {current}/{desired}"));
    }
    if desired > updated {
        return in_progress("LessUpdated", format!("Updated: {updated}/{desired}"));
    }
    if desired > avail {
        return in_progress("LessAvailable", format!("Available: {avail}/{desired}"));
    }
    if desired > ready {
        return in_progress("LessReady", format!("Ready: {ready}/{desired}"));
    }
    let msg = format!("All replicas scheduled as expected. Replicas: {desired}");
    Ok(KStatusResult::current(msg))
}

fn pvc(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    let phase = lenient_str(obj, &["status", "phase"], "unknown");
    if phase != "Bound" {
        let msg = format!("PVC is not Bound. phase: {phase}");
        return Ok(KStatusResult::in_progress("NotBound", msg));
    }
    Ok(KStatusResult::current("PVC is Bound"))
}

/// Pods: by phase; a Pending pod gets a grace period to be scheduled, counted from its creation.
fn pod(obj: &Value, now: Timestamp) -> Res<KStatusResult> {
    let conditions = status_conditions(obj)?;
    match lenient_str(obj, &["status", "phase"], "") {
        "Succeeded" => Ok(KStatusResult::current("Pod has completed successfully")),
        "Failed" => Ok(KStatusResult::current("Pod has completed, but not successfully")),
        "Running" => {
            if conditions.iter().any(|c| c.is("Ready", "True")) {
                return Ok(KStatusResult::current("Pod is Ready"));
            }
            let crashing = crash_looping(obj)?;
            if !crashing.is_empty() {
                let msg = format!("Containers in CrashLoop state: {}", crashing.join(","));
                return Ok(KStatusResult::failed("ContainerCrashLooping", msg));
            }
            let msg = "Pod is running but is not Ready";
            Ok(KStatusResult::in_progress("PodRunningNotReady", msg))
        }
        "Pending" => {
            let unschedulable =
                conditions.iter().find(|c| c.is("PodScheduled", "False")).is_some_and(|c| c.reason == "Unschedulable");
            if !unschedulable {
                return Ok(KStatusResult::in_progress("PodPending", "Pod is in the Pending phase"));
            }
            // Pods get a grace period to be scheduled, counted from their creation.
            let window_start = now.checked_sub(SCHEDULE_WINDOW).ok();
            if let (Some(created), Some(start)) = (creation(obj), window_start)
                && start < created
            {
                let msg = "Pod has not been scheduled";
                return Ok(KStatusResult::in_progress("PodNotScheduled", msg));
            }
            Ok(KStatusResult::failed("PodUnschedulable", "Pod could not be scheduled"))
        }
        "" => Ok(KStatusResult::in_progress("PodNotObserved", "Pod phase not available")),
        other => Err(format!("unknown phase {other}")),
    }
}

/// `metadata.creationTimestamp`, or `None` when absent or unparsable (Go's zero time).
fn creation(obj: &Value) -> Option<Timestamp> {
    let text = lenient_str(obj, &["metadata", "creationTimestamp"], "");
    text.parse().ok()
}

/// Names of containers waiting in CrashLoopBackOff.
fn crash_looping(obj: &Value) -> Res<Vec<&str>> {
    let statuses = match nested(obj, &["status", "containerStatuses"])? {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(".status.containerStatuses is not a list".into()),
    };
    let mut names = Vec::new();
    for cs in statuses {
        let Value::Object(map) = cs else {
            return Err(".status.containerStatuses holds a non-object".into());
        };
        let Some(name) = map.get("name") else { continue };
        let Some(name) = name.as_str() else {
            return Err("container status name is not a string".into());
        };
        let reason = match nested(cs, &["state", "waiting", "reason"]) {
            Ok(Some(Value::String(r))) => r,
            Ok(None) => continue,
            _ => return Err(format!("container {name:?} has a malformed state")),
        };
        if reason == "CrashLoopBackOff" {
            names.push(name);
        }
    }
    Ok(names)
}

/// PDBs set no conditions; reaching here means the latest generation was observed.
fn pdb(_: &Value, _: Timestamp) -> Res<KStatusResult> {
    Ok(KStatusResult::current("AllowedDisruptions has been computed."))
}

/// Jobs: InProgress until started, Current while running, once complete, or while suspended
/// (spec and condition agree), Failed on a true Failed condition.
fn job(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    let parallelism = int(obj, "spec.parallelism", 1);
    let completions = int(obj, "spec.completions", parallelism);
    let succeeded = int(obj, "status.succeeded", 0);
    let active = int(obj, "status.active", 0);
    let failed = int(obj, "status.failed", 0);
    let suspended = matches!(nested(obj, &["spec", "suspend"]), Ok(Some(Value::Bool(true))));
    for c in status_conditions(obj)? {
        if c.status != "True" {
            continue;
        }
        match c.type_ {
            "Complete" => {
                let msg = format!("Job Completed. succeeded: {succeeded}/{completions}");
                return Ok(KStatusResult::current(msg));
            }
            "Failed" => {
                let msg = format!("Job Failed. failed: {failed}/{completions}");
                return Ok(KStatusResult::failed("JobFailed", msg));
            }
            // Only while the spec still asks for it: a resumed Job keeps its Suspended=True
            // condition until the controller catches up, and is judged on its start then.
            "Suspended" if suspended => return Ok(KStatusResult::current("Job is suspended")),
            _ => {}
        }
    }
    if lenient_str(obj, &["status", "startTime"], "").is_empty() {
        return Ok(KStatusResult::in_progress("JobNotStarted", "Job not started"));
    }
    let msg = format!("Job in progress. success:{succeeded}, active: {active}, failed: {failed}");
    Ok(KStatusResult::current(msg))
}

/// Services: only a LoadBalancer without a cluster IP is still in progress.
fn service(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    let lb = lenient_str(obj, &["spec", "type"], "ClusterIP") == "LoadBalancer";
    if lb && lenient_str(obj, &["spec", "clusterIP"], "").is_empty() {
        let msg = "ClusterIP not set. Service type: LoadBalancer";
        return Ok(KStatusResult::in_progress("NoIPAssigned", msg));
    }
    Ok(KStatusResult::current("Service is ready"))
}

/// CRDs: names must be accepted and the CRD established.
fn crd(obj: &Value, _: Timestamp) -> Res<KStatusResult> {
    for c in status_conditions(obj)? {
        if c.is("NamesAccepted", "False") {
            return Ok(KStatusResult::failed(c.reason, c.message));
        }
        if c.type_ == "Established" {
            if c.status == "False" && c.reason != "Installing" {
                return Ok(KStatusResult::failed(c.reason, c.message));
            }
            if c.status == "True" {
                return Ok(KStatusResult::current("CRD is established"));
            }
        }
    }
    Ok(KStatusResult::in_progress("Installing", "Install in progress"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kstatus::KStatus;
    use serde_json::json;

    #[test]
    fn pending_pod_grace_period() {
        let now = Timestamp::now();
        let pod_at = |created: Timestamp| {
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"creationTimestamp": created.to_string()},
                "status": {"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}})
        };
        let fresh = pod(&pod_at(now - SignedDuration::from_secs(5)), now).expect("ok");
        assert_eq!(fresh.status, KStatus::InProgress);
        let old = pod(&pod_at(now - SignedDuration::from_secs(60)), now).expect("ok");
        assert_eq!(old.status, KStatus::Failed);
    }

    #[test]
    fn crash_loop_fails_running_pod() {
        let obj = json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let r = pod(&obj, Timestamp::now()).expect("ok");
        assert_eq!(r.status, KStatus::Failed);
        assert_eq!(r.message, "Containers in CrashLoop state: a");
        let bad = json!({"status": {"phase": "Running", "containerStatuses": [1]}});
        assert!(pod(&bad, Timestamp::now()).is_err());
    }
}
