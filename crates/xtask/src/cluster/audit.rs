//! The API server's audit log: every write (create, update, patch, delete) at Metadata level, who
//! made it (user and user agent) and when, in `audit/audit.log` of the cluster's directory. The
//! chaos scenarios read it to show that two controller replicas never write at the same time.

use std::fs;

use anyhow::{Context, Result};

use super::Layout;

/// Part of the cluster's build fingerprint: a cluster started before the audit log existed (or with
/// another policy) is restarted by `up` rather than reused.
pub(super) const LAYOUT: &str = "audit1";

/// Size in MB at which the API server starts a new audit file, and how many old ones it keeps; the
/// readers take every `audit*.log` of the directory.
const MAX_SIZE_MB: u32 = 200;
const MAX_BACKUPS: u32 = 4;

/// Writes only, without request or response bodies; reads and watches are not logged, so the log
/// stays small and the API server fast.
const POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
- RequestReceived
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
";

/// Writes the policy file the API server is started with.
pub(super) fn write_policy(layout: &Layout) -> Result<()> {
    let path = layout.audit.join("policy.yaml");
    fs::write(&path, POLICY).with_context(|| format!("writing {}", path.display()))
}

/// The API server's audit flags: the policy, the log file and its rotation. The log backend in
/// blocking mode writes each event before the response, so a reader sees every finished write.
pub(super) fn apiserver_args(layout: &Layout) -> Vec<String> {
    vec![
        format!("--audit-policy-file={}", layout.audit.join("policy.yaml").display()),
        format!("--audit-log-path={}", layout.audit.join("audit.log").display()),
        "--audit-log-format=json".to_owned(),
        "--audit-log-mode=blocking".to_owned(),
        format!("--audit-log-maxsize={MAX_SIZE_MB}"),
        format!("--audit-log-maxbackup={MAX_BACKUPS}"),
    ]
}
