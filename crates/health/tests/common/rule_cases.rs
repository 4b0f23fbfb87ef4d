//! Table-driven checks shared by the rule tests (`kstatus_*.rs`, `argo_*.rs`): each case names
//! the upstream branch it takes, and all failures are reported together.

use lockstep_api::HealthStatusCode;
use lockstep_health::{KConditionType, KStatus, builtin, kstatus};
use serde_json::{Value, json};

/// One case: a description, the object, and the expected status, condition reason ("" for no
/// condition) and message.
pub type KCase = (&'static str, Value, KStatus, &'static str, &'static str);

pub fn check_kstatus(cases: Vec<KCase>) {
    let mut failures = Vec::new();
    for (what, obj, status, reason, message) in cases {
        let got = kstatus(&obj);
        let got_reason = got.conditions.first().map_or("", |c| c.reason.as_str());
        if got.status != status || got_reason != reason || (!message.is_empty() && got.message != message) {
            failures.push(format!("{what}: expected {status} {reason:?} {message:?}, got {got:?}"));
        }
        if let Some(c) = got.conditions.first() {
            let want =
                if got.status == KStatus::Failed { KConditionType::Stalled } else { KConditionType::Reconciling };
            if c.condition != want || c.status != "True" {
                failures.push(format!("{what}: condition {c:?} does not back {}", got.status));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub fn obj(api_version: &str, kind: &str, spec: Value, status: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec, "status": status})
}

pub fn conds(list: Value) -> Value {
    json!({"conditions": list})
}

/// A description, the object, and the expected code and message (`None`: any message).
pub type ArgoCase = (&'static str, Value, HealthStatusCode, Option<&'static str>);

pub fn check_builtin(cases: Vec<ArgoCase>) {
    let mut failures = Vec::new();
    for (what, obj, status, message) in cases {
        match builtin(&obj) {
            None => failures.push(format!("{what}: no built-in rule")),
            Some(got) => {
                let msg_ok = message.is_none_or(|m| got.message.as_deref().unwrap_or("") == m);
                if got.status != status || !msg_ok {
                    failures.push(format!("{what}: expected {status} {message:?}, got {got:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub fn obj_gen1(api_version: &str, kind: &str, spec: Value, status: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "generation": 1}, "spec": spec, "status": status})
}

pub fn merged(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(map), Value::Object(extra)) = (out.as_object_mut(), extra) {
        map.extend(extra);
    }
    out
}
