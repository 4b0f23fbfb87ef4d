//! `lockstep health -f FILE` prints one line per object and exits 0 unless the file cannot be read.

use std::process::Command;

fn lockstep(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lockstep runs");
    child.stdin.take().expect("piped").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("lockstep finishes")
}

const OBJECTS: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: crash, namespace: ns}
  spec: {restartPolicy: Always}
  status:
    phase: Running
    containerStatuses:
    - name: main
      ready: false
      state: {waiting: {reason: CrashLoopBackOff, message: back-off restarting}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain, namespace: ns}
---
apiVersion: batch/v1
kind: Job
metadata: {name: done, namespace: ns}
status:
  conditions:
  - {type: Complete, status: "True"}
"#;

#[test]
fn prints_health_per_object() {
    let out = lockstep(&["health", "-f", "-"], OBJECTS);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0][..3], ["Pod", "ns/crash", "Degraded"]);
    assert_eq!(lines[1][..3], ["ConfigMap", "ns/plain", "Healthy"]);
    assert_eq!(lines[2][..3], ["Job", "ns/done", "Healthy"]);
}

#[test]
fn prints_kstatus_on_request() {
    let out = lockstep(&["health", "--kstatus", "-f", "-"], OBJECTS);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let statuses: Vec<&str> = text.lines().map(|l| l.split('\t').nth(2).unwrap_or_default()).collect();
    assert_eq!(statuses, ["Failed", "Current", "Current"], "{text}");
}

#[test]
fn an_unreadable_file_is_an_error() {
    let out = lockstep(&["health", "-f", "/nonexistent/file.yaml"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.yaml"));
}

/// Runs `lockstep health [--kstatus] -f FILE` on `objects` written to a file; one
/// `(kind, place, status, message)` per line.
fn health_of_file(objects: &str, kstatus: bool) -> Vec<(String, String, String, String)> {
    let dir = std::env::temp_dir().join(format!("lockstep-health-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(format!("objects-{kstatus}-{:x}.yaml", objects.len()));
    std::fs::write(&file, objects).expect("write objects");
    let path = file.to_str().expect("UTF-8 path");
    let args: &[&str] = if kstatus { &["health", "--kstatus", "-f", path] } else { &["health", "-f", path] };
    let out = lockstep(args, "");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    text.lines()
        .map(|l| {
            let mut cells = l.splitn(4, '\t').map(str::to_string);
            let mut next = || cells.next().unwrap_or_default();
            (next(), next(), next(), next())
        })
        .collect()
}

fn statuses(rows: &[(String, String, String, String)]) -> Vec<&str> {
    rows.iter().map(|r| r.2.as_str()).collect()
}

/// Live objects need no name: a generateName Pod, a bare Deployment, an object with only a kind.
const UNNAMED: &str = r#"
apiVersion: v1
kind: Pod
metadata: {generateName: web-, namespace: ns}
spec: {restartPolicy: Always}
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {generation: 2}
spec: {replicas: 1}
status: {observedGeneration: 1}
---
kind: Widget
"#;

#[test]
fn objects_without_a_name_get_a_verdict() {
    let rows = health_of_file(UNNAMED, false);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("Pod", "ns/<none>"));
    assert_eq!(rows[1].1, "<none>");
    assert_eq!(statuses(&rows), ["Healthy", "Progressing", "Healthy"]);
    assert!(rows[1].3.contains("observed deployment generation less than desired"), "{rows:?}");

    let rows = health_of_file(UNNAMED, true);
    assert_eq!(statuses(&rows), ["Current", "InProgress", "Current"]);
    assert_eq!(rows[1].3, "Deployment generation is 2, but latest observed generation is 1");
    assert_eq!(rows[2].3, "Resource is current");
}

/// Custom resources follow their generic Ready condition (kstatus); no built-in rule applies.
const READY_CRS: &str = r#"
apiVersion: example.com/v1
kind: Database
metadata: {name: down, namespace: ns, generation: 3}
status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "False", reason: BackendDown, message: cannot reach the backend}
---
apiVersion: example.com/v1
kind: Database
metadata: {name: unsure, namespace: ns}
status:
  conditions: [{type: Ready, status: Unknown, reason: Probing, message: still probing}]
---
apiVersion: example.com/v1
kind: Database
metadata: {name: up, namespace: ns}
status:
  conditions: [{type: Ready, status: "True", reason: Up}]
---
apiVersion: example.com/v1
kind: Database
metadata: {name: stalled, namespace: ns}
status:
  conditions:
  - {type: Ready, status: "False", reason: BackendDown}
  - {type: Stalled, status: "True", reason: GaveUp, message: gave up}
"#;

#[test]
fn custom_resources_follow_their_ready_condition() {
    let rows = health_of_file(READY_CRS, true);
    assert_eq!(statuses(&rows), ["InProgress", "InProgress", "Current", "Failed"], "{rows:?}");
    assert_eq!(rows[0].3, "cannot reach the backend");
    assert_eq!(rows[2].3, "Resource is Ready");
    assert_eq!(rows[3].3, "gave up");
    let rows = health_of_file(READY_CRS, false);
    assert_eq!(statuses(&rows), ["Progressing", "Progressing", "Healthy", "Degraded"], "{rows:?}");
    assert_eq!(rows[0].3, "cannot reach the backend");
}

/// A Job on its way into suspension, suspended, on its way out, and resumed.
const JOBS: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: suspending, namespace: ns}
spec: {suspend: true}
status: {startTime: "2024-01-01T00:00:00Z", active: 1}
---
apiVersion: batch/v1
kind: Job
metadata: {name: suspended, namespace: ns}
spec: {suspend: true}
status:
  conditions:
  - {type: Suspended, status: "True", reason: JobSuspended, message: Job suspended}
---
apiVersion: batch/v1
kind: Job
metadata: {name: resuming, namespace: ns}
spec: {suspend: false}
status:
  conditions:
  - {type: Suspended, status: "True", reason: JobSuspended, message: Job suspended}
---
apiVersion: batch/v1
kind: Job
metadata: {name: resumed, namespace: ns}
spec: {suspend: false}
status:
  startTime: "2024-01-01T00:10:00Z"
  active: 1
  conditions:
  - {type: Suspended, status: "False", reason: JobResumed, message: Job resumed}
"#;

#[test]
fn jobs_into_and_out_of_suspension() {
    let rows = health_of_file(JOBS, false);
    // Argo CD looks at the conditions only; any Suspended condition counts as an outcome.
    assert_eq!(statuses(&rows), ["Progressing", "Suspended", "Suspended", "Healthy"], "{rows:?}");
    assert_eq!(rows[1].3, "Job suspended");
    assert_eq!(rows[3].3, "Job resumed");
    let rows = health_of_file(JOBS, true);
    // kstatus wants spec and condition to agree, then judges a Job by whether it started.
    assert_eq!(statuses(&rows), ["Current", "Current", "InProgress", "Current"], "{rows:?}");
    assert_eq!(rows[1].3, "Job is suspended");
    assert_eq!(rows[2].3, "Job not started");
    assert_eq!(rows[3].3, "Job in progress. success:0, active: 1, failed: 0");
}
