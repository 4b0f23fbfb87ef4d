//! Unpacking one tar+gzip layer into a directory, refusing anything that could reach outside it:
//! absolute paths, `..` components, symbolic and hard links, devices. The files' total size is
//! capped, so a small compressed layer cannot fill the disk.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Why a layer could not be unpacked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ExtractError {
    /// An entry would leave the directory, or is a link or a special file.
    Unsafe(String),
    /// The files add up to more than the cap.
    TooLarge { limit: u64 },
    /// Not a readable tar+gzip stream, or the disk refused a write.
    Io(String),
}

/// Unpacks the gzip-compressed tar `layer` into `dir` (which must exist and be empty), writing at
/// most `max_bytes` of file content.
pub(crate) fn extract_tar_gz(layer: impl Read, dir: &Path, max_bytes: u64) -> Result<(), ExtractError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    let entries = archive.entries().map_err(io)?;
    let mut written: u64 = 0;
    for entry in entries {
        let mut entry = entry.map_err(io)?;
        let raw = entry.path().map_err(io)?.into_owned();
        let relative = safe_relative(&raw)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(ExtractError::Unsafe(format!("{} is a link", raw.display())));
        }
        let target = dir.join(&relative);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(io)?;
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname() {
                continue;
            }
            return Err(ExtractError::Unsafe(format!("{} is not a regular file ({kind:?})", raw.display())));
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        written = written.saturating_add(entry.header().size().map_err(io)?);
        if written > max_bytes {
            return Err(ExtractError::TooLarge { limit: max_bytes });
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = std::fs::File::create(&target).map_err(io)?;
        let copied = std::io::copy(&mut (&mut entry).take(max_bytes.saturating_add(1)), &mut file).map_err(io)?;
        if copied > max_bytes {
            return Err(ExtractError::TooLarge { limit: max_bytes });
        }
    }
    Ok(())
}

/// The entry's path with `.` dropped; `Err` for absolute paths and `..`.
fn safe_relative(path: &Path) -> Result<PathBuf, ExtractError> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ExtractError::Unsafe(format!("{} leaves the artifact's directory", path.display())));
            }
        }
    }
    Ok(out)
}

fn io(err: std::io::Error) -> ExtractError {
    ExtractError::Io(err.to_string())
}

/// The directory a Helm chart layer unpacks into: its one top-level directory (`<chart>/`).
pub(crate) fn chart_root(dir: &Path) -> Result<PathBuf, ExtractError> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            dirs.push(entry.path());
        }
    }
    match dirs.as_slice() {
        [one] if one.join("Chart.yaml").is_file() => Ok(one.clone()),
        _ => Err(ExtractError::Io("the chart layer holds no single <chart>/Chart.yaml".into())),
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
