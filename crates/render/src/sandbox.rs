//! Keeping a render inside its repository: references are resolved lexically and refused when they
//! leave the root, and symlinks pointing outside the root refuse the whole commit. These checks run
//! before any tool sees the files.

use std::path::{Component, Path, PathBuf};

use crate::error::RenderError;

/// Joins `reference` (relative, from the file `from_dir`) and normalizes `.`/`..` without touching
/// the filesystem; `None` when the result is absolute input or leaves `root`.
pub fn resolve_inside(root: &Path, from_dir: &Path, reference: &str) -> Option<PathBuf> {
    let relative = Path::new(reference);
    if relative.has_root() {
        return None;
    }
    let base = from_dir.strip_prefix(root).ok()?;
    let mut parts: Vec<Component<'_>> = base.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    for component in relative.components() {
        match component {
            Component::Normal(_) => parts.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().fold(root.to_path_buf(), |path, part| path.join(part)))
}

/// True for references Kustomize or Helm would fetch over the network.
pub fn looks_remote(reference: &str) -> bool {
    let r = reference.trim();
    r.contains("://")
        || r.starts_with("git@")
        || r.starts_with("github.com/")
        || r.starts_with("gitlab.com/")
        || r.starts_with("bitbucket.org/")
        || r.contains("?ref=")
        || r.contains(".git//")
}

/// Fails if any symlink under `root` points (directly or through others) outside `root`, or is
/// dangling in a way that could later point outside. Argo CD refuses such checkouts the same way.
pub fn check_symlinks(root: &Path) -> Result<(), RenderError> {
    let canonical_root = root.canonicalize().map_err(|e| RenderError::scratch(root.display(), e))?;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| read_error(root, &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| read_error(root, &dir, e))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| read_error(root, &path, e))?;
            if file_type.is_symlink() {
                let escapes = match path.canonicalize() {
                    Ok(target) => !target.starts_with(&canonical_root),
                    // Dangling: judge the link text itself.
                    Err(_) => std::fs::read_link(&path)
                        .map(|t| resolve_inside(root, &dir, &t.to_string_lossy()).is_none())
                        .unwrap_or(true),
                };
                if escapes {
                    return Err(RenderError::SymlinkOutsideRepository { file: relative(root, &path) });
                }
            } else if file_type.is_dir() && entry.file_name() != ".git" {
                stack.push(path);
            }
        }
    }
    Ok(())
}

/// `path` relative to `root`, for messages.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).display().to_string();
    if rel.is_empty() { ".".into() } else { rel }
}

fn read_error(root: &Path, path: &Path, e: std::io::Error) -> RenderError {
    RenderError::Read { file: relative(root, path), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_and_refuses_escapes() {
        let root = Path::new("/repo");
        let from = Path::new("/repo/apps/web");
        assert_eq!(resolve_inside(root, from, "../base"), Some(PathBuf::from("/repo/apps/base")));
        assert_eq!(resolve_inside(root, from, "./values/x.yaml"), Some(PathBuf::from("/repo/apps/web/values/x.yaml")));
        assert_eq!(resolve_inside(root, from, "../../.."), None);
        assert_eq!(resolve_inside(root, from, "/etc/passwd"), None);
        assert_eq!(resolve_inside(root, from, "../.."), Some(PathBuf::from("/repo")));
    }

    #[test]
    fn remote_references_are_recognised() {
        for remote in [
            "https://github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v1.0.6",
            "github.com/org/repo/path?ref=main",
            "git@github.com:org/repo.git",
            "ssh://git@host/repo.git//dir",
        ] {
            assert!(looks_remote(remote), "{remote}");
        }
        for local in ["../base", "deployment.yaml", "components/x"] {
            assert!(!looks_remote(local), "{local}");
        }
    }

    #[test]
    fn symlinks_out_of_the_repository_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/a.yaml"), "x").unwrap();
        std::os::unix::fs::symlink("a.yaml", dir.path().join("app/b.yaml")).unwrap();
        assert!(check_symlinks(dir.path()).is_ok());
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("app/passwd.yaml")).unwrap();
        let err = check_symlinks(dir.path()).unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { file } if file == "app/passwd.yaml"), "{err}");
    }

    #[test]
    fn dangling_symlinks_that_would_escape_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("../../nowhere", dir.path().join("x")).unwrap();
        assert!(check_symlinks(dir.path()).is_err());
    }
}
