//! `crds/` must hold exactly what `lockstep crd` prints, one file per CRD, and `crds/Kustomization`
//! must list every one, so users install what the code expects.

use std::process::Command;

fn lockstep_crd(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep")).arg("crd").args(args).output().expect("lockstep crd runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn crds_directory_matches_lockstep_crd() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds");
    let mut joined = String::new();
    for name in ["applications.lockstep.dev", "applicationsets.lockstep.dev", "appprojects.lockstep.dev"] {
        let printed = lockstep_crd(&[name]);
        let committed = std::fs::read_to_string(format!("{dir}/{name}.yaml")).unwrap_or_default();
        assert!(printed == committed, "crds/ is stale: run `cargo run -p lockstep -- crd {name} > crds/{name}.yaml`");
        joined.push_str(&printed);
    }
    assert_eq!(lockstep_crd(&[]), joined, "`lockstep crd` prints a CRD crds/ does not hold");
    let kustomization = std::fs::read_to_string(format!("{dir}/Kustomization")).expect("crds/Kustomization exists");
    for name in ["applications.lockstep.dev", "applicationsets.lockstep.dev", "appprojects.lockstep.dev"] {
        assert!(kustomization.contains(&format!("- {name}.yaml")), "crds/Kustomization does not list {name}.yaml");
    }
}

#[test]
fn an_unknown_crd_name_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep")).args(["crd", "nope.lockstep.dev"]).output().expect("runs");
    assert!(!out.status.success());
}
