//! Which kind of source a directory is, decided the way Argo CD decides it.

use std::path::Path;

use crate::options::SourceKind;

/// File names that make a directory a Kustomization.
pub const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// `explicit` when set; otherwise Kustomize if `dir` holds a kustomization file, Helm if it holds
/// `Chart.yaml`, else a plain directory.
pub fn detect_kind(dir: &Path, explicit: Option<SourceKind>) -> SourceKind {
    if let Some(kind) = explicit {
        return kind;
    }
    if KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file()) {
        SourceKind::Kustomize
    } else if dir.join("Chart.yaml").is_file() {
        SourceKind::Helm
    } else {
        SourceKind::Directory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_marker_file_unless_explicit() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect_kind(dir.path(), None), SourceKind::Directory);
        std::fs::write(dir.path().join("Chart.yaml"), "name: x").unwrap();
        assert_eq!(detect_kind(dir.path(), None), SourceKind::Helm);
        std::fs::write(dir.path().join("Kustomization"), "resources: []").unwrap();
        assert_eq!(detect_kind(dir.path(), None), SourceKind::Kustomize);
        assert_eq!(detect_kind(dir.path(), Some(SourceKind::Directory)), SourceKind::Directory);
    }
}
