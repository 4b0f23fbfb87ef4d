//! The tools are found on the caller's PATH, as a CLI user expects, not on the sandbox's fixed one.
//! One test in this binary: it sets the process's PATH.

use std::os::unix::fs::PermissionsExt;

use lockstep_render::{RenderError, RenderRequest, Renderer, RendererConfig, SourceKind};

const FAKE_KUSTOMIZE: &str = "#!/bin/sh
case \"$1\" in
  version) echo v5.0.0-fake ;;
  build) printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-fake\\n' ;;
  *) exit 2 ;;
esac
";

#[tokio::test]
async fn tools_in_the_callers_path_are_found_and_missing_ones_name_the_flag() {
    let bin = tempfile::tempdir().unwrap();
    let tool = bin.path().join("lockstep-fake-kustomize");
    std::fs::write(&tool, FAKE_KUSTOMIZE).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut dirs = vec![bin.path().to_path_buf()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    // SAFETY: the only test of this binary, set before any thread of it reads the environment.
    unsafe { std::env::set_var("PATH", std::env::join_paths(dirs).unwrap()) };

    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("app")).unwrap();
    std::fs::write(repo.path().join("app/kustomization.yaml"), "resources: []\n").unwrap();
    let request = RenderRequest {
        revision: "abc".into(),
        root: repo.path().to_path_buf(),
        path: "app".into(),
        kind: Some(SourceKind::Kustomize),
        ..Default::default()
    };

    let config = RendererConfig { kustomize: "lockstep-fake-kustomize".into(), ..Default::default() };
    let rendered = Renderer::new(config).render(&request).await.unwrap();
    assert_eq!(rendered.manifests.len(), 1);

    let config = RendererConfig { kustomize: "lockstep-missing-kustomize".into(), ..Default::default() };
    let err = Renderer::new(config).render(&request).await.unwrap_err();
    assert!(matches!(err, RenderError::ToolUnavailable { tool: "kustomize", .. }), "{err}");
    assert!(err.to_string().contains("--kustomize-path"), "{err}");
}
