//! Conformance with upstream's own test cases: `shared/conformance/health` (Argo CD gitops-engine)
//! and `shared/conformance/kstatus` (cli-utils kstatus). Every case runs; all failures are
//! reported together; a set with no cases fails.

mod common;

use std::collections::BTreeSet;

use lockstep_health::{Health, KStatusResult, assess, builtin, kstatus};
use serde_json::Value;

use common::{Row, conformance_dir, load_yaml, parse_yaml, read_tsv, yaml_files};

/// Runs `check` on every row of the set's `expected.tsv` and fails listing every failure.
fn run_set(set: &str, placeholder: Option<&str>, check: impl Fn(&Row, &Value) -> Vec<String>) {
    let dir = conformance_dir(set);
    let rows =
        read_tsv(&dir.join("expected.tsv")).unwrap_or_else(|e| panic!("cannot read the {set} conformance data: {e}"));
    assert!(!rows.is_empty(), "no {set} conformance cases found in {}", dir.display());

    let mut failures = Vec::new();
    let mut listed = BTreeSet::new();
    for row in &rows {
        let file = row.get("file");
        listed.insert(file.to_string());
        let obj = match load_yaml(&dir.join(file), placeholder) {
            Ok(obj) => obj,
            Err(e) => {
                failures.push(format!("{file} (line {}): cannot load: {e}", row.line));
                continue;
            }
        };
        failures.extend(check(row, &obj).into_iter().map(|f| format!("{file}: {f}")));
    }
    match yaml_files(&dir) {
        Ok(files) => failures.extend(
            files.into_iter().filter(|f| !listed.contains(f)).map(|f| format!("{f}: not listed in expected.tsv")),
        ),
        Err(e) => failures.push(e),
    }
    let passed = rows.len().saturating_sub(failures.len());
    println!("{set}: {passed}/{} cases passed", rows.len());
    assert!(failures.is_empty(), "{} {set} failure(s):\n{}", failures.len(), failures.join("\n"));
}

fn describe(h: &Option<Health>) -> String {
    match h {
        None => "nil".into(),
        Some(h) => format!("{} ({:?})", h.status, h.message),
    }
}

#[test]
fn gitops_engine_health_cases() {
    run_set("health", None, |row, obj| {
        let mut failures = Vec::new();
        let expected = row.get("expected_health_status");
        let got = builtin(obj);
        let status_ok = match &got {
            None => expected == "nil",
            Some(h) => h.status.to_string() == expected,
        };
        if !status_ok {
            failures.push(format!("expected {expected}, got {}", describe(&got)));
        }
        let want_msg = row.get("expected_message_substring");
        if !want_msg.is_empty() {
            let msg = got.as_ref().and_then(|h| h.message.as_deref()).unwrap_or("");
            if msg != want_msg {
                failures.push(format!("expected message {want_msg:?}, got {msg:?}"));
            }
        }
        // assess = the built-in rule when there is one, else kstatus.
        let fallback: Health = kstatus(obj).into();
        let assessed = assess(obj);
        if assessed != got.clone().unwrap_or(fallback.clone()) {
            failures.push(format!("assess gave {assessed:?}"));
        }
        failures
    });
}

/// Parses `Type=Status(Reason)`.
fn parse_condition(spec: &str) -> Option<(&str, &str, &str)> {
    let (type_, rest) = spec.split_once('=')?;
    let (status, rest) = rest.split_once('(')?;
    Some((type_.trim(), status.trim(), rest.strip_suffix(')')?))
}

fn check_kstatus(row: &Row, got: &KStatusResult) -> Vec<String> {
    let mut failures = Vec::new();
    let expected = row.get("expected_kstatus");
    if got.status.to_string() != expected {
        failures.push(format!("expected {expected}, got {} ({:?})", got.status, got.message));
    }
    for spec in row.get("expected_conditions").split(',').filter(|s| !s.trim().is_empty()) {
        let Some((type_, status, reason)) = parse_condition(spec.trim()) else {
            failures.push(format!("bad expected_conditions entry {spec:?}"));
            continue;
        };
        let found =
            got.conditions.iter().any(|c| c.condition.to_string() == type_ && c.status == status && c.reason == reason);
        if !found {
            failures.push(format!("missing condition {spec}, got {:?}", got.conditions));
        }
    }
    for type_ in row.get("absent_condition_types").split(',').map(str::trim) {
        if !type_.is_empty() && got.conditions.iter().any(|c| c.condition.to_string() == type_) {
            failures.push(format!("unexpected {type_} condition in {:?}", got.conditions));
        }
    }
    failures
}

#[test]
fn kstatus_cases() {
    // Upstream fills its one time-dependent case with time.Now() in RFC 3339.
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).expect("now is in range").to_string();
    run_set("kstatus", Some(&now), |row, obj| check_kstatus(row, &kstatus(obj)));
}

#[test]
fn yaml_duplicate_keys_keep_the_last_value() {
    let v = parse_yaml("a: 1\nb: {c: 2}\na: 3\n1: x\n").expect("parses");
    assert_eq!(v, serde_json::json!({"a": 3, "b": {"c": 2}, "1": "x"}));
}
