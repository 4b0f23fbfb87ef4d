//! Chart archives (`.tgz`) unpacked safely: only plain files and directories, no absolute paths or
//! `..`, no links, and caps on the unpacked size and the number of entries, so an archive can
//! neither write outside its directory nor fill the disk.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Most bytes the files of one archive may unpack to.
pub(crate) const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;
/// Most entries one archive may hold.
pub(crate) const MAX_ENTRIES: usize = 20_000;

/// Unpacks the gzip'd tar in `bytes` into `into` (which must not exist yet) and returns the
/// chart's directory in it: the one top-level directory that holds a `Chart.yaml`.
pub(crate) fn unpack_chart(bytes: &[u8], into: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(into).map_err(|e| format!("{}: {e}", into.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut total: u64 = 0;
    let entries = archive.entries().map_err(|e| format!("not a tar+gzip archive: {e}"))?;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let path = entry.path().map_err(|e| format!("an entry's name: {e}"))?.into_owned();
        let relative = safe_relative(&path)?;
        let kind = entry.header().entry_type();
        let target = into.join(&relative);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            // Pax/GNU metadata entries carry no file of their own.
            if matches!(kind, tar::EntryType::XHeader | tar::EntryType::XGlobalHeader) {
                continue;
            }
            return Err(format!("{}: {kind:?} entries (links, devices) are not allowed in a chart", path.display()));
        }
        total = total.saturating_add(entry.header().size().unwrap_or(u64::MAX));
        if total > MAX_UNPACKED_BYTES {
            return Err(format!("unpacks to more than {MAX_UNPACKED_BYTES} bytes"));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let mut file = std::fs::File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        let limit = MAX_UNPACKED_BYTES + 1;
        std::io::copy(&mut (&mut entry).take(limit), &mut file).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    chart_dir(into)
}

/// The archive path as a relative path of normal components only.
fn safe_relative(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return Err(format!("{}: paths leaving the chart are not allowed", path.display())),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("an entry with an empty name".into());
    }
    Ok(out)
}

/// The one top-level directory holding `Chart.yaml`.
fn chart_dir(root: &Path) -> Result<PathBuf, String> {
    let mut charts = std::fs::read_dir(root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").is_file());
    match (charts.next(), charts.next()) {
        (Some(dir), None) => Ok(dir),
        (None, _) => Err("no <chart>/Chart.yaml in the archive".into()),
        (Some(_), Some(_)) => Err("more than one chart in the archive".into()),
    }
}

/// Makes every file and directory under `dir` read-only, so a render can never change the cache.
pub(crate) fn make_read_only(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            make_read_only(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o555))?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
