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
