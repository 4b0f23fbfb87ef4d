//! Deterministic fuzzing: many random and mutated objects (seeded from the conformance data) go
//! through every public function, which must not panic and must keep their invariants.

mod common;

use lockstep_health::{Health, aggregate, assess, builtin, ignored, kstatus, kstatus_at};
use serde_json::{Map, Value, json};

use common::{conformance_dir, load_yaml, yaml_files};
use lockstep_fuzz::Rng;

const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
    "conditions",
    "type",
    "status",
    "reason",
    "message",
    "phase",
    "replicas",
    "readyReplicas",
    "updatedReplicas",
    "availableReplicas",
    "currentReplicas",
    "fullyLabeledReplicas",
    "generation",
    "observedGeneration",
    "annotations",
    "deletionTimestamp",
    "creationTimestamp",
    "containerStatuses",
    "initContainerStatuses",
    "state",
    "lastState",
    "waiting",
    "terminated",
    "exitCode",
    "name",
    "loadBalancer",
    "ingress",
    "updateStrategy",
    "rollingUpdate",
    "partition",
    "restartPolicy",
    "paused",
    "suspend",
    "active",
    "lastScheduleTime",
    "lastSuccessfulTime",
    "desiredNumberScheduled",
    "numberAvailable",
    "numberReady",
    "startTime",
    "health",
    "progressDeadlineSeconds",
    "clusterIP",
    "autoscaling.alpha.kubernetes.io/conditions",
    "lockstep.dev/ignore-healthcheck",
    "argocd.argoproj.io/ignore-healthcheck",
    "argocd.argoproj.io/ignore-restart-policy",
    "argocd.argoproj.io/hook",
    "volume.beta.kubernetes.io/storage-provisioner",
];

const STRINGS: &[&str] = &[
    "",
    "True",
    "False",
    "Unknown",
    "true",
    "Running",
    "Pending",
    "Failed",
    "Succeeded",
    "Bound",
    "Lost",
    "Error",
    "LoadBalancer",
    "ClusterIP",
    "OnDelete",
    "RollingUpdate",
    "Always",
    "Never",
    "OnFailure",
    "Ready",
    "Available",
    "Progressing",
    "Complete",
    "Suspended",
    "Reconciling",
    "Stalled",
    "AbleToScale",
    "ScalingActive",
    "FailedGetScale",
    "Established",
    "NamesAccepted",
    "Installing",
    "PodScheduled",
    "Unschedulable",
    "ProgressDeadlineExceeded",
    "ReplicaFailure",
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "OOMKilled",
    "Healthy",
    "Degraded",
    "NewReplicaSetAvailable",
    "2024-01-01T00:00:00Z",
    "2030-12-31T23:59:59+02:00",
    "not-a-time",
    "%s",
    "[",
    "null",
    "[]",
    "[{\"type\":1}]",
    "[{\"TYPE\":\"AbleToScale\",\"Status\":\"True\"}]",
    "v1",
    "apps/v1",
    "a/b/c",
    "/",
    "PostSync",
    "Skip",
    "\u{0}",
    "ünïcødé",
];

const KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("extensions/v1beta1", "Deployment"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "Ingress"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("autoscaling/v1", "HorizontalPodAutoscaler"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("argoproj.io/v1alpha1", "Workflow"),
    ("argoproj.io/v1alpha1", "Application"),
    ("lockstep.dev/v1alpha1", "Application"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "ConfigMap"),
    ("example.com/v1", "Widget"),
    ("v2", "Pod"),
    ("", ""),
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let choice = if depth == 0 { rng.below(5) } else { rng.below(8) };
    match choice {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => match rng.below(9) {
            0 => json!(i64::MAX),
            1 => json!(i64::MIN),
            2 => json!(u64::MAX),
            3 => json!(-1),
            4 => json!(1.5),
            5 => json!(-1e300),
            6 => json!(9.223_372_036_854_776e18),
            _ => json!(rng.below(6)),
        },
        3 | 4 => Value::String((*rng.pick(STRINGS)).to_string()),
        5 => (0..rng.below(4)).map(|_| random_value(rng, depth - 1)).collect(),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(5) {
                map.insert((*rng.pick(KEYS)).to_string(), random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

/// Changes one randomly chosen node of `v`.
fn mutate(rng: &mut Rng, v: &mut Value) {
    let descend = rng.chance(75);
    match v {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned();
            if let Some(child) = key.and_then(|k| map.get_mut(&k)) {
                return mutate(rng, child);
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            return mutate(rng, &mut items[i]);
        }
        _ => {}
    }
    match v {
        Value::Object(map) if rng.chance(50) => {
            if !map.is_empty() && rng.chance(50) {
                let key = map.keys().nth(rng.below(map.len())).cloned();
                key.map(|k| map.remove(&k));
            } else {
                map.insert((*rng.pick(KEYS)).to_string(), random_value(rng, 3));
            }
        }
        Value::Array(items) if rng.chance(50) => {
            if !items.is_empty() && rng.chance(50) {
                items.remove(rng.below(items.len()));
            } else {
                items.push(random_value(rng, 3));
            }
        }
        _ => *v = random_value(rng, 3),
    }
}

/// Runs everything on `obj` and checks the invariants that must hold for any input.
fn exercise(obj: &Value, now: jiff::Timestamp) -> Health {
    let assessed = assess(obj);
    let built = builtin(obj);
    let ks = kstatus_at(obj, now);
    let _ = kstatus(obj);
    let _ = ignored(obj);
    let expected = built.unwrap_or_else(|| ks.clone().into());
    // kstatus's one time-dependent rule may flip between the two `now`s; compare the rest.
    if !(obj["kind"] == "Pod" && assessed != expected) {
        assert_eq!(assessed, expected, "assess disagrees with builtin/kstatus for {obj}");
    }
    assert!(assessed.message.as_deref() != Some(""), "empty message for {obj}");
    assessed
}

fn seeds() -> Vec<Value> {
    let mut objects = Vec::new();
    for set in ["health", "kstatus"] {
        let dir = conformance_dir(set);
        let files = yaml_files(&dir).unwrap_or_else(|e| panic!("no conformance data: {e}"));
        for file in files {
            let obj = load_yaml(&dir.join(&file), Some("2024-01-01T00:00:00Z")).unwrap_or_else(|e| panic!("{e}"));
            objects.push(obj);
        }
    }
    assert!(!objects.is_empty(), "no conformance objects to fuzz from");
    objects
}

#[test]
fn mutated_conformance_objects_never_panic() {
    let now = jiff::Timestamp::now();
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0;
    for seed in seeds() {
        let mut healths = Vec::new();
        for _ in 0..150 {
            let mut obj = seed.clone();
            if rng.chance(30) {
                let (api_version, kind) = *rng.pick(KINDS);
                if let Value::Object(map) = &mut obj {
                    map.insert("apiVersion".into(), json!(api_version));
                    map.insert("kind".into(), json!(kind));
                }
            }
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut obj);
            }
            healths.push(exercise(&obj, now));
            runs += 1;
        }
        let names: Vec<String> = (0..healths.len()).map(|i| format!("Obj {i}")).collect();
        let _ = aggregate(names.iter().map(String::as_str).zip(&healths));
    }
    assert!(runs > 1000, "only {runs} fuzz runs");
}

#[test]
fn random_objects_never_panic() {
    let now = jiff::Timestamp::now();
    let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
    for _ in 0..5000 {
        let mut obj = random_value(&mut rng, 4);
        if let Value::Object(map) = &mut obj {
            let (api_version, kind) = *rng.pick(KINDS);
            map.insert("apiVersion".into(), json!(api_version));
            map.insert("kind".into(), json!(kind));
        }
        exercise(&obj, now);
    }
    for obj in [json!(null), json!(1), json!("x"), json!([]), json!([{}]), json!({})] {
        exercise(&obj, now);
    }
}

/// Numeric fields the rules compare or subtract, set to extremes in random combinations.
#[test]
fn extreme_counts_never_overflow() {
    const PATHS: &[&[&str]] = &[
        &["metadata", "generation"],
        &["status", "observedGeneration"],
        &["spec", "replicas"],
        &["spec", "updateStrategy", "rollingUpdate", "partition"],
        &["spec", "parallelism"],
        &["spec", "completions"],
        &["status", "replicas"],
        &["status", "readyReplicas"],
        &["status", "updatedReplicas"],
        &["status", "availableReplicas"],
        &["status", "currentReplicas"],
        &["status", "fullyLabeledReplicas"],
        &["status", "desiredNumberScheduled"],
        &["status", "currentNumberScheduled"],
        &["status", "updatedNumberScheduled"],
        &["status", "numberAvailable"],
        &["status", "numberReady"],
        &["status", "succeeded"],
        &["status", "failed"],
        &["status", "active"],
    ];
    let extremes = [json!(i64::MIN), json!(-1), json!(0), json!(1), json!(i64::MAX)];
    let now = jiff::Timestamp::now();
    let mut rng = Rng::new(0x0123_4567_89AB_CDEF);
    for &(api_version, kind) in KINDS {
        for _ in 0..300 {
            let mut obj = json!({"apiVersion": api_version, "kind": kind,
                "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {}}}});
            for path in PATHS {
                if rng.chance(70) {
                    set(&mut obj, path, rng.pick(&extremes).clone());
                }
            }
            exercise(&obj, now);
        }
    }
}

fn set(obj: &mut Value, path: &[&str], value: Value) {
    let mut cur = obj;
    for key in &path[..path.len() - 1] {
        cur = cur
            .as_object_mut()
            .map(|m| m.entry(key.to_string()).or_insert_with(|| json!({})))
            .unwrap_or_else(|| panic!("{key} is not an object"));
    }
    if let (Some(map), Some(last)) = (cur.as_object_mut(), path.last()) {
        map.insert(last.to_string(), value);
    }
}
