//! `lockstep render applicationset -f FILE` prints the Applications a set generates, with no
//! cluster: list elements as written and git generators from a local checkout.

use std::process::Command;

fn render(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["render", "applicationset"])
        .args(args)
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("lockstep runs")
}

#[test]
fn a_matrix_of_a_list_and_a_local_checkout_prints_one_application_each() {
    let checkout = tempfile::tempdir().unwrap();
    for dir in ["clusters/ccr", "clusters/513", "clusters/legacy"] {
        std::fs::create_dir_all(checkout.path().join(dir)).unwrap();
    }
    let file = checkout.path().join("set.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: lockstep.dev/v1alpha1
kind: ApplicationSet
metadata: {name: kops, namespace: ops}
spec:
  generators:
    - matrix:
        generators:
          - list: {elements: [{network: eth0}, {network: eth2}]}
          - git:
              repoURL: https://git.example/platform.git
              directories: [{path: "clusters/*"}, {path: clusters/legacy, exclude: true}]
  template:
    metadata: {name: "kops-openstack-compute-{{path.basename}}-{{network}}"}
    spec:
      source: {repoURL: https://git.example/platform.git, path: "{{path}}"}
      destination: {namespace: "compute-{{network}}"}
"#,
    )
    .unwrap();
    let git = format!("https://git.example/platform.git={}", checkout.path().display());
    let out = render(&["-f", file.to_str().unwrap(), "--git", &git]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("  name: ")).collect();
    assert_eq!(
        names,
        [
            "kops-openstack-compute-513-eth0",
            "kops-openstack-compute-ccr-eth0",
            "kops-openstack-compute-513-eth2",
            "kops-openstack-compute-ccr-eth2"
        ]
    );
    assert!(stdout.contains("namespace: compute-eth2"), "{stdout}");

    let missing = render(&["-f", file.to_str().unwrap()]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--git https://git.example/platform.git=DIR"), "{stderr}");
}
