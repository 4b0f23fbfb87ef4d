//! `crds/` must hold exactly what `lockstep crd` prints, so users install what the code expects.

use std::process::Command;

#[test]
fn crds_directory_matches_lockstep_crd() {
    let out = Command::new(env!("CARGO_BIN_EXE_lockstep")).arg("crd").output().expect("lockstep crd runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).expect("UTF-8");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds/applications.lockstep.dev.yaml");
    let committed = std::fs::read_to_string(path).expect("crds/applications.lockstep.dev.yaml exists");
    assert!(
        printed == committed,
        "crds/ is stale: run `cargo run -p lockstep -- crd > crds/applications.lockstep.dev.yaml`"
    );
}
