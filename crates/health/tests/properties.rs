//! Property tests: for random objects of a kind, built from the fields its schema has (any of them
//! possibly absent), our verdict equals a plain re-statement of the upstream rule.

use lockstep_api::HealthStatusCode;
use lockstep_health::{KStatus, builtin, kstatus};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// A condition `(type, status, reason)` from a small vocabulary, so that rules' cases collide.
fn condition(types: &'static [&'static str]) -> impl Strategy<Value = (&'static str, &'static str, &'static str)> {
    let statuses: &'static [&'static str] = &["True", "False", "Unknown", ""];
    let reasons: &'static [&'static str] = &["", "NewReplicaSetAvailable", "ProgressDeadlineExceeded", "Other"];
    (prop::sample::select(types), prop::sample::select(statuses), prop::sample::select(reasons))
}

fn conditions_json(conds: &[(&str, &str, &str)]) -> Value {
    conds.iter().map(|(t, s, r)| json!({"type": t, "status": s, "reason": r, "message": format!("{t}/{s}")})).collect()
}

/// Sets `key` in `map` when `value` is `Some`.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v);
    }
}

fn count() -> impl Strategy<Value = Option<i64>> {
    prop::option::of(0i64..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A custom resource: generation/observedGeneration, then Reconciling/Stalled, then Ready.
    #[test]
    fn custom_resource_kstatus(
        generation in count(), observed in count(),
        conds in prop::collection::vec(condition(&["Ready", "Reconciling", "Stalled", "Synced"]), 0..4),
    ) {
        let mut meta = Map::new();
        put(&mut meta, "generation", generation.map(Value::from));
        let mut status = Map::new();
        put(&mut status, "observedGeneration", observed.map(Value::from));
        status.insert("conditions".into(), conditions_json(&conds));
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "status": status});

        let expected = match (generation, observed) {
            (Some(g), Some(o)) if g != o => (KStatus::InProgress, "LatestGenerationNotObserved".to_string()),
            _ => conds
                .iter()
                .find_map(|(t, s, r)| match (*t, *s) {
                    ("Reconciling", "True") => Some((KStatus::InProgress, r.to_string())),
                    ("Stalled", "True") => Some((KStatus::Failed, r.to_string())),
                    _ => None,
                })
                .or_else(|| conds.iter().find_map(|(t, s, r)| match (*t, *s) {
                    ("Ready", "True") => Some((KStatus::Current, String::new())),
                    ("Ready", "False" | "Unknown") => Some((KStatus::InProgress, r.to_string())),
                    _ => None,
                }))
                .unwrap_or((KStatus::Current, String::new())),
        };
        let got = kstatus(&obj);
        let reason = got.conditions.first().map(|c| c.reason.clone()).unwrap_or_default();
        prop_assert_eq!((got.status, reason), expected, "{}", obj);
    }

    /// A Job, by both upstreams.
    #[test]
    fn job(
        suspend in prop::option::of(any::<bool>()), started in any::<bool>(),
        conds in prop::collection::vec(condition(&["Complete", "Failed", "Suspended", "FailureTarget"]), 0..4),
    ) {
        let mut spec = Map::new();
        put(&mut spec, "suspend", suspend.map(Value::from));
        let mut status = Map::new();
        put(&mut status, "startTime", started.then(|| json!("2024-01-01T00:00:00Z")));
        status.insert("conditions".into(), conditions_json(&conds));
        let obj = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": spec, "status": status});

        // kstatus: the first true Complete/Failed (or Suspended, with spec.suspend), else started?
        let ks = conds
            .iter()
            .find_map(|(t, s, _)| match (*t, *s) {
                ("Complete", "True") => Some(KStatus::Current),
                ("Failed", "True") => Some(KStatus::Failed),
                ("Suspended", "True") if suspend == Some(true) => Some(KStatus::Current),
                _ => None,
            })
            .unwrap_or(if started { KStatus::Current } else { KStatus::InProgress });
        prop_assert_eq!(kstatus(&obj).status, ks, "{}", obj);

        // Argo CD: any Failed → Degraded; any Complete/Suspended → done; Suspended=True → Suspended.
        let has = |t: &str| conds.iter().any(|c| c.0 == t);
        let argo = if !(has("Failed") || has("Complete") || has("Suspended")) {
            HealthStatusCode::Progressing
        } else if has("Failed") {
            HealthStatusCode::Degraded
        } else if conds.iter().any(|c| c.0 == "Suspended" && c.1 == "True") {
            HealthStatusCode::Suspended
        } else {
            HealthStatusCode::Healthy
        };
        prop_assert_eq!(builtin(&obj).map(|h| h.status), Some(argo), "{}", obj);
    }

    /// A Deployment, by both upstreams.
    #[test]
    fn deployment(
        paused in any::<bool>(), spec_replicas in count(), deadline in prop::option::of(prop::sample::select(vec![600i64, i64::from(i32::MAX)])),
        generation in 1i64..3, observed in count(),
        replicas in count(), updated in count(), ready in count(), available in count(),
        conds in prop::collection::vec(condition(&["Progressing", "Available", "ReplicaFailure"]), 0..3),
    ) {
        let mut spec = Map::new();
        put(&mut spec, "paused", paused.then_some(json!(true)));
        put(&mut spec, "replicas", spec_replicas.map(Value::from));
        put(&mut spec, "progressDeadlineSeconds", deadline.map(Value::from));
        let mut status = Map::new();
        for (k, v) in [("observedGeneration", observed), ("replicas", replicas), ("updatedReplicas", updated),
            ("readyReplicas", ready), ("availableReplicas", available)] {
            put(&mut status, k, v.map(Value::from));
        }
        status.insert("conditions".into(), conditions_json(&conds));
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": generation},
            "spec": spec, "status": status});
        let (rep, upd, rdy, avl) = (replicas.unwrap_or(0), updated.unwrap_or(0), ready.unwrap_or(0), available.unwrap_or(0));

        use HealthStatusCode::*;
        let progressing = conds.iter().find(|c| c.0 == "Progressing");
        let argo = if paused {
            Suspended
        } else if generation > observed.unwrap_or(0) {
            Progressing
        } else if progressing.is_some_and(|c| c.2 == "ProgressDeadlineExceeded") {
            Degraded
        } else if spec_replicas.is_some_and(|s| upd < s) || rep > upd || avl < upd {
            Progressing
        } else {
            Healthy
        };
        prop_assert_eq!(builtin(&obj).map(|h| h.status), Some(argo), "{}", obj);

        let spec_n = spec_replicas.unwrap_or(1);
        let ks = if observed.is_some_and(|o| o != generation) {
            KStatus::InProgress
        } else if conds.iter().any(|c| c.0 == "Progressing" && c.2 == "ProgressDeadlineExceeded") {
            KStatus::Failed
        } else if spec_n > rep || spec_n > upd || rep > spec_n || upd > avl || spec_n > rdy {
            KStatus::InProgress
        } else {
            let no_deadline = deadline.is_none_or(|d| d == i64::from(i32::MAX));
            let rs_available = conds.iter().any(|c| c.0 == "Progressing" && c.1 == "True" && c.2 == "NewReplicaSetAvailable");
            let dep_available = conds.iter().any(|c| c.0 == "Available" && c.1 == "True");
            if (no_deadline || rs_available) && dep_available { KStatus::Current } else { KStatus::InProgress }
        };
        prop_assert_eq!(kstatus(&obj).status, ks, "{}", obj);
    }

    /// A StatefulSet by kstatus: OnDelete, counts, partition, then revisions.
    #[test]
    fn statefulset_kstatus(
        on_delete in any::<bool>(), spec_replicas in count(), partition in prop::option::of(0i64..3),
        replicas in count(), ready in count(), current in count(), updated in count(),
        revisions in (prop::sample::select(vec!["a", "b"]), prop::sample::select(vec!["a", "b"])),
    ) {
        let mut strategy = Map::new();
        strategy.insert("type".into(), json!(if on_delete { "OnDelete" } else { "RollingUpdate" }));
        put(&mut strategy, "rollingUpdate", partition.map(|p| json!({"partition": p})));
        let mut spec = Map::new();
        spec.insert("updateStrategy".into(), Value::Object(strategy));
        put(&mut spec, "replicas", spec_replicas.map(Value::from));
        let mut status = Map::new();
        for (k, v) in [("replicas", replicas), ("readyReplicas", ready), ("currentReplicas", current), ("updatedReplicas", updated)] {
            put(&mut status, k, v.map(Value::from));
        }
        status.insert("currentRevision".into(), json!(revisions.0));
        status.insert("updateRevision".into(), json!(revisions.1));
        let obj = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"}, "spec": spec, "status": status});

        let s = spec_replicas.unwrap_or(1);
        let (rep, rdy, cur, upd) = (replicas.unwrap_or(0), ready.unwrap_or(0), current.unwrap_or(0), updated.unwrap_or(0));
        let ks = if on_delete {
            KStatus::Current
        } else if s > rep || s > rdy || rep > s {
            KStatus::InProgress
        } else if let Some(p) = partition {
            if upd < s - p { KStatus::InProgress } else { KStatus::Current }
        } else if s > cur || revisions.0 != revisions.1 {
            KStatus::InProgress
        } else {
            KStatus::Current
        };
        prop_assert_eq!(kstatus(&obj).status, ks, "{}", obj);
    }
}
