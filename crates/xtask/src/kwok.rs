//! Simulated nodes for the local control plane: kwok (`sigs.k8s.io/kwok`)
//! plays the kubelet of a few fake Nodes, so Pods are scheduled, become
//! Running and Ready, Job pods complete, and deleted Pods go away.
//!
//! kwok is built from its own Go module, tests/kwok (kwok v0.8.0 needs
//! `k8s.io/*` v0.36.1, which tests/controlplane replaces with its own
//! release), into target/controlplane/bin/kwok, once: target/controlplane/
//! kwok.stamp records what it was built from. Its behaviour comes from the
//! Stage files in tests/kwok/stages/ (copied from kwok's own "fast" set).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::Workspace;
use crate::gobuild;
use crate::gomodule::{GoBuild, fnv1a64};

/// kwok's main package, with the name `go build` gives its binary and the name we keep it under.
const PACKAGES: &[(&str, &str, &str)] = &[("sigs.k8s.io/kwok/cmd/kwok", "kwok", "kwok")];

/// Stage files in tests/kwok/stages/ (without `.yaml`), all passed to kwok.
const STAGES: &[&str] = &[
    "node-initialize",
    "node-heartbeat-with-lease",
    "pod-ready",
    "pod-complete",
    "pod-delete",
    "pod-container-running-failed",
];

/// The annotation by which kwok recognises the Nodes it manages.
pub const NODE_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

/// Pod IPs kwok hands out; apart from the service range (10.0.0.0/24).
const POD_CIDR: &str = "10.244.0.0/16";

/// Lease duration of the fake nodes (kwok renews the Leases, as a kubelet does).
const NODE_LEASE_SECONDS: u32 = 40;

/// A fake Node: its name and `topology.kubernetes.io/zone`.
#[derive(Debug, Clone, Copy)]
pub struct FakeNode {
    /// Node name.
    pub name: &'static str,
    /// Zone label value.
    pub zone: &'static str,
}

/// The fake Nodes every cluster gets: one per zone, without taints, so
/// ordinary Pods schedule.
pub const NODES: &[FakeNode] =
    &[FakeNode { name: "kwok-node-a", zone: "a" }, FakeNode { name: "kwok-node-b", zone: "b" }];

/// The kwok binary and what it runs with.
#[derive(Debug, Clone)]
pub struct Kwok {
    /// Absolute path of the binary.
    pub binary: PathBuf,
    /// Absolute paths of the Stage files.
    pub stages: Vec<PathBuf>,
    /// Identifies the build, the stages, the nodes and the command line; a
    /// cluster started with another fingerprint is restarted.
    pub fingerprint: String,
}

/// The Go module that pins kwok.
fn module_dir(ws: &Workspace) -> PathBuf {
    ws.root.join("tests").join("kwok")
}

/// The recipe: kwok built into the control plane's bin directory, with its own stamp.
fn recipe(ws: &Workspace) -> GoBuild {
    let base = ws.target().join("controlplane");
    GoBuild {
        what: "kwok",
        cold_build: "a minute or two",
        module: module_dir(ws),
        out_dir: gobuild::bin_dir(ws),
        stamp_path: base.join("kwok.stamp"),
        lock_path: base.join("build.lock"),
        ldflags: None,
        goflags: None,
        packages: PACKAGES,
    }
}

/// Returns kwok, building it first unless its stamp shows it was built from
/// the current go.mod, go.sum and Go version.
pub fn ensure(ws: &Workspace) -> Result<Kwok> {
    let module = module_dir(ws);
    let binary = gobuild::bin_dir(ws).join("kwok");
    let wanted = recipe(ws).ensure()?;

    let stages_dir = module.join("stages");
    let stages: Vec<PathBuf> = STAGES.iter().map(|name| stages_dir.join(format!("{name}.yaml"))).collect();
    let mut identity = wanted;
    for stage in &stages {
        let text = fs::read_to_string(stage).with_context(|| format!("reading kwok stage {}", stage.display()))?;
        identity.push_str(&text);
    }
    identity.push_str(&nodes_manifest());
    let mut kwok = Kwok { binary, stages, fingerprint: String::new() };
    identity.push_str(&args(&kwok, Path::new("KUBECONFIG")).join(" "));
    kwok.fingerprint = format!("{:016x}", fnv1a64(identity.as_bytes()));
    Ok(kwok)
}

/// kwok's command line for a cluster whose components use `kubeconfig`.
/// kwok serves no port of its own (no `--server-address`), so several
/// clusters can run side by side.
pub fn args(kwok: &Kwok, kubeconfig: &Path) -> Vec<String> {
    let (key, value) = NODE_ANNOTATION;
    let mut args = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--manage-nodes-with-annotation-selector={key}={value}"),
        format!("--node-lease-duration-seconds={NODE_LEASE_SECONDS}"),
        format!("--cidr={POD_CIDR}"),
    ];
    args.extend(kwok.stages.iter().map(|stage| format!("--config={}", stage.display())));
    args
}

/// The fake Nodes as a YAML stream for `kubectl apply`. The status carries
/// the capacity; kwok's node-initialize stage keeps it and adds the rest.
pub fn nodes_manifest() -> String {
    let (key, value) = NODE_ANNOTATION;
    NODES
        .iter()
        .map(|node| {
            format!(
                "apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations:
    {key}: {value}
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: {name}
    kubernetes.io/os: linux
    type: kwok
    topology.kubernetes.io/zone: {zone}
status:
  allocatable:
    cpu: \"16\"
    memory: 64Gi
    pods: \"110\"
  capacity:
    cpu: \"16\"
    memory: 64Gi
    pods: \"110\"
",
                name = node.name,
                zone = node.zone
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// kubectl arguments that print, per node labelled `type=kwok`, a line
/// `NAME READY TAINTS` for [`nodes_ready`].
pub const NODES_QUERY: &[&str] = &[
    "get",
    "nodes",
    "--selector=type=kwok",
    "-o",
    r#"jsonpath={range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints}{"\n"}{end}"#,
];

/// True if the output of [`NODES_QUERY`] shows every node of [`NODES`]
/// Ready and without taints (the controller manager removes the
/// `not-ready` taint once the node is Ready), so Pods can be scheduled.
pub fn nodes_ready(output: &str) -> bool {
    NODES.iter().all(|node| {
        output.lines().any(|line| {
            let mut fields = line.splitn(3, ' ');
            let name = fields.next().unwrap_or_default();
            let ready = fields.next().unwrap_or_default();
            let taints = fields.next().unwrap_or_default().trim();
            name == node.name && ready == "True" && taints.is_empty()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_exist() {
        let ws = Workspace::locate();
        for name in STAGES {
            let path = module_dir(&ws).join("stages").join(format!("{name}.yaml"));
            let text = fs::read_to_string(&path).unwrap();
            assert!(text.contains("kind: Stage"), "{} is not a Stage", path.display());
        }
    }

    #[test]
    fn stamp_names_kwok_and_no_ldflags() {
        let a = recipe(&Workspace::locate()).stamp("go version go1.26.8").unwrap();
        assert!(a.ends_with("go version go1.26.8\nCGO_ENABLED=0\nsigs.k8s.io/kwok/cmd/kwok -> kwok\n"), "{a}");
    }

    #[test]
    fn manifest_has_every_node() {
        let text = nodes_manifest();
        assert_eq!(text.matches("kind: Node\n").count(), NODES.len());
        assert!(text.contains("kwok.x-k8s.io/node: fake\n"));
        assert!(text.contains("topology.kubernetes.io/zone: b\n"));
        assert!(!text.contains("taints"));
    }

    #[test]
    fn nodes_ready_needs_every_node_ready_and_untainted() {
        let ready = "kwok-node-a True \nkwok-node-b True \n";
        assert!(nodes_ready(ready));
        assert!(!nodes_ready("kwok-node-a True \n"));
        assert!(!nodes_ready("kwok-node-a True \nkwok-node-b False \n"));
        let tainted = r#"kwok-node-a True [{"effect":"NoSchedule","key":"node.kubernetes.io/not-ready"}]"#;
        assert!(!nodes_ready(&format!("{tainted}\nkwok-node-b True \n")));
    }

    #[test]
    fn args_pass_every_stage() {
        let kwok = Kwok {
            binary: PathBuf::from("/bin/kwok"),
            stages: vec![PathBuf::from("/s/a.yaml"), PathBuf::from("/s/b.yaml")],
            fingerprint: String::new(),
        };
        let args = args(&kwok, Path::new("/k"));
        assert!(args.contains(&"--kubeconfig=/k".to_owned()));
        assert_eq!(args.iter().filter(|a| a.starts_with("--config=")).count(), 2);
    }
}
