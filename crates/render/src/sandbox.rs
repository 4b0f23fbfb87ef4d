//! Keeping a render inside its repository: references are resolved lexically and refused when they
//! leave the root, and symlinks pointing outside the root refuse every render that reads them. These
//! checks run before any tool sees the files.

use std::collections::HashSet;
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

/// Fails if a path the render reads is, or holds (in directories, recursively), a symlink that
/// points (directly or through others) outside `root`, or dangles in a way that could later point
/// outside. Only `reached` is judged, so one bad link elsewhere in a monorepo fails only the
/// Applications that read it. Directories reached through in-repository links are judged too.
pub fn check_symlinks(root: &Path, reached: &[PathBuf]) -> Result<(), RenderError> {
    let canonical_root = root.canonicalize().map_err(|e| RenderError::scratch(root.display(), e))?;
    let mut walked: HashSet<PathBuf> = HashSet::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for path in reached {
        let Ok(metadata) = std::fs::symlink_metadata(path) else { continue };
        match path.canonicalize() {
            Ok(target) if !target.starts_with(&canonical_root) => {
                return Err(RenderError::SymlinkOutsideRepository { file: relative(root, path) });
            }
            Ok(target) if target.is_dir() => stack.push(target),
            Ok(_) => {}
            Err(_) if metadata.file_type().is_symlink() => {
                if dangling_escapes(root, path) {
                    return Err(RenderError::SymlinkOutsideRepository { file: relative(root, path) });
                }
            }
            Err(e) => return Err(read_error(root, path, e)),
        }
    }
    while let Some(dir) = stack.pop() {
        if !walked.insert(dir.clone()) {
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| read_error(&canonical_root, &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| read_error(&canonical_root, &dir, e))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| read_error(&canonical_root, &path, e))?;
            if file_type.is_symlink() {
                let escapes = match path.canonicalize() {
                    Ok(target) if target.starts_with(&canonical_root) => {
                        if target.is_dir() {
                            stack.push(target);
                        }
                        false
                    }
                    Ok(_) => true,
                    Err(_) => dangling_escapes(&canonical_root, &path),
                };
                if escapes {
                    return Err(RenderError::SymlinkOutsideRepository { file: relative(&canonical_root, &path) });
                }
            } else if file_type.is_dir() && entry.file_name() != ".git" {
                stack.push(path);
            }
        }
    }
    Ok(())
}

/// A dangling link is judged by its text: one that would resolve outside `root` is refused.
fn dangling_escapes(root: &Path, link: &Path) -> bool {
    let dir = link.parent().unwrap_or(root);
    std::fs::read_link(link).map(|t| resolve_inside(root, dir, &t.to_string_lossy()).is_none()).unwrap_or(true)
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
        let app = dir.path().join("app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("a.yaml"), "x").unwrap();
        std::os::unix::fs::symlink("a.yaml", app.join("b.yaml")).unwrap();
        assert!(check_symlinks(dir.path(), std::slice::from_ref(&app)).is_ok());
        std::os::unix::fs::symlink("/etc/passwd", app.join("passwd.yaml")).unwrap();
        let err = check_symlinks(dir.path(), &[app]).unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { file } if file == "app/passwd.yaml"), "{err}");
    }

    #[test]
    fn only_what_the_render_reaches_is_judged() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["apps/good", "apps/bad", "apps/linked", "shared"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("apps/good/cm.yaml"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("apps/bad/etc")).unwrap();
        // An in-repository link to a directory that holds a bad link is judged through the link.
        std::os::unix::fs::symlink("/etc/hostname", root.join("shared/host.yaml")).unwrap();
        std::os::unix::fs::symlink("../../shared", root.join("apps/linked/shared")).unwrap();

        assert!(check_symlinks(root, &[root.join("apps/good")]).is_ok());
        let outside = |paths: &[PathBuf]| match check_symlinks(root, paths) {
            Err(RenderError::SymlinkOutsideRepository { file }) => file,
            other => panic!("expected a refused symlink, got {other:?}"),
        };
        assert_eq!(outside(&[root.join("apps/bad")]), "apps/bad/etc");
        assert_eq!(outside(&[root.join("apps/linked")]), "shared/host.yaml");
        assert_eq!(outside(&[root.join("apps/good"), root.join("apps/bad/etc")]), "apps/bad/etc");
        assert_eq!(outside(&[root.join("shared/host.yaml")]), "shared/host.yaml");
        assert!(check_symlinks(root, &[root.join("apps/good/missing.yaml")]).is_ok());
    }

    #[test]
    fn dangling_symlinks_that_would_escape_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("../../nowhere", dir.path().join("x")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("y")).unwrap();
        assert!(check_symlinks(dir.path(), &[dir.path().to_path_buf()]).is_err());
        assert!(check_symlinks(dir.path(), &[dir.path().join("x")]).is_err());
        assert!(check_symlinks(dir.path(), &[dir.path().join("y")]).is_ok());
    }
}
