//! Deterministic image layers: a gzipped tar of a list of file system entries, written straight into
//! the layout's blob directory while both digests are computed (the compressed one names the blob,
//! the uncompressed one is the config's `diff_id`).
//!
//! The same entries give the same bytes: entries are sorted by path, missing parent directories are
//! added, and every header carries a fixed mtime, an explicit mode and numeric owner, and no user or
//! group names; gzip's own header has mtime 0.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// What a path in the image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file with these contents.
    File(Content),
    /// A symbolic link to this target.
    Symlink(String),
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Read from this path on the build host (symbolic links followed).
    Host(PathBuf),
    /// These bytes.
    Bytes(Vec<u8>),
}

/// One entry of a layer: an absolute path in the image, what it is, its mode and numeric owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute path in the image, e.g. `/usr/local/bin/lockstep`.
    pub path: String,
    /// The file system object.
    pub node: Node,
    /// Permission bits (e.g. `0o755`, `0o1777`).
    pub mode: u32,
    /// Owner uid and gid.
    pub owner: (u32, u32),
}

impl Entry {
    /// A directory owned by root.
    pub fn dir(path: &str, mode: u32) -> Self {
        Self { path: path.into(), node: Node::Dir, mode, owner: (0, 0) }
    }

    /// A regular file owned by root, with bytes from the build host.
    pub fn host_file(path: &str, source: impl Into<PathBuf>, mode: u32) -> Self {
        Self { path: path.into(), node: Node::File(Content::Host(source.into())), mode, owner: (0, 0) }
    }

    /// A regular file owned by root, with the given bytes.
    pub fn bytes(path: &str, bytes: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self { path: path.into(), node: Node::File(Content::Bytes(bytes.into())), mode, owner: (0, 0) }
    }

    /// A symbolic link owned by root.
    pub fn symlink(path: &str, target: &str) -> Self {
        Self { path: path.into(), node: Node::Symlink(target.into()), mode: 0o777, owner: (0, 0) }
    }

    /// The same entry with another owner.
    pub fn owned_by(mut self, uid: u32, gid: u32) -> Self {
        self.owner = (uid, gid);
        self
    }
}

/// A layer written to the blob directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// sha256 of the compressed bytes, hex (the blob's name and the manifest's digest).
    pub digest: String,
    /// sha256 of the uncompressed tar, hex (the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// Size of the compressed blob in bytes.
    pub size: u64,
}

/// A writer that hashes and counts what passes through it.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Hashing<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self { inner, hasher: Sha256::new(), written: 0 }
    }

    /// The inner writer, the hex sha256 and the byte count of everything written.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.written)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Sorts `entries` by path, adds root-owned 0755 directories for missing parents and rejects
/// relative or duplicate paths. Keys are paths without the leading `/`.
fn normalise(entries: &[Entry]) -> Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    for entry in entries {
        let Some(rel) = entry.path.strip_prefix('/') else { bail!("image path {} is not absolute", entry.path) };
        let rel = rel.trim_end_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            bail!("image path {} is not a clean absolute path", entry.path);
        }
        if out.insert(rel.to_owned(), entry.clone()).is_some() {
            bail!("image path {} appears twice", entry.path);
        }
    }
    let parents: Vec<String> = out
        .keys()
        .flat_map(|rel| {
            let parts: Vec<&str> = rel.split('/').collect();
            (1..parts.len()).map(move |n| parts[..n].join("/"))
        })
        .collect();
    for parent in parents {
        out.entry(parent.clone()).or_insert_with(|| Entry::dir(&format!("/{parent}"), 0o755));
    }
    for (rel, entry) in &out {
        if let Some((parent, _)) = rel.rsplit_once('/')
            && out.get(parent).is_some_and(|p| p.node != Node::Dir)
        {
            bail!("image path {} lies under {parent}, which is not a directory", entry.path);
        }
    }
    Ok(out)
}

/// Writes the layer of `entries` into `blobs` (the layout's `blobs/sha256`), every header stamped
/// with `mtime` (seconds since the epoch), and returns its digests and size.
pub fn write(entries: &[Entry], mtime: u64, blobs: &Path) -> Result<LayerBlob> {
    fs::create_dir_all(blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let partial = blobs.join(format!(".layer-{}.partial", std::process::id()));
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let compressed = Hashing::new(io::BufWriter::new(file));
    let gzip = GzEncoder::new(compressed, Compression::default());
    let uncompressed = write_tar(entries, mtime, Hashing::new(gzip))?;
    let (gzip, diff_id, _) = uncompressed.finish();
    let compressed = gzip.finish().context("finishing a layer's gzip stream")?;
    let (file, digest, size) = compressed.finish();
    file.into_inner().map_err(|e| e.into_error()).context("flushing a layer")?.sync_all()?;
    let blob = blobs.join(&digest);
    fs::rename(&partial, &blob).with_context(|| format!("renaming the layer to {}", blob.display()))?;
    Ok(LayerBlob { digest, diff_id, size })
}

/// Writes `entries` as a deterministic tar stream into `out` (as [`write`] describes) and returns
/// the writer; also used for the archive of the whole layout.
pub fn write_tar<W: Write>(entries: &[Entry], mtime: u64, out: W) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    for (rel, entry) in normalise(entries)? {
        append(&mut tar, &rel, &entry, mtime).with_context(|| format!("adding {} to a tar", entry.path))?;
    }
    tar.into_inner().context("finishing a tar")
}

/// Appends one normalised entry.
fn append<W: Write>(tar: &mut tar::Builder<W>, rel: &str, entry: &Entry, mtime: u64) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_mtime(mtime);
    header.set_uid(entry.owner.0.into());
    header.set_gid(entry.owner.1.into());
    header.set_mode(entry.mode);
    match &entry.node {
        Node::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{rel}/"), io::empty())?;
        }
        Node::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, rel, target)?;
        }
        Node::File(Content::Bytes(bytes)) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            tar.append_data(&mut header, rel, bytes.as_slice())?;
        }
        Node::File(Content::Host(source)) => {
            let file = File::open(source).with_context(|| format!("opening {}", source.display()))?;
            let len = file.metadata()?.len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(len);
            tar.append_data(&mut header, rel, file)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::bytes("/usr/local/bin/tool", b"#!/bin/sh\necho hi\n".to_vec(), 0o755),
            Entry::dir("/tmp", 0o1777),
            Entry::bytes("/etc/passwd", b"lockstep:x:65532:65532::/tmp:/sbin/nologin\n".to_vec(), 0o644),
            Entry::symlink("/usr/lib/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt"),
            Entry::dir("/var/cache/lockstep", 0o755).owned_by(65532, 65532),
        ]
    }

    fn read(blob: &Path) -> Vec<(String, tar::EntryType, u32, u64, u64)> {
        let gz = flate2::read::GzDecoder::new(File::open(blob).unwrap());
        let mut archive = tar::Archive::new(gz);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_same_entries_in_any_order_give_the_same_digests() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = write(&sample(), 1_700_000_000, a.path()).unwrap();
        let mut reversed = sample();
        reversed.reverse();
        let second = write(&reversed, 1_700_000_000, b.path()).unwrap();
        assert_eq!(first, second);
        let bytes = fs::read(a.path().join(&first.digest)).unwrap();
        assert_eq!(sha256_hex(&bytes), first.digest);
        assert_eq!(bytes.len() as u64, first.size);
        assert_ne!(first.digest, first.diff_id);
    }

    #[test]
    fn mode_owner_and_mtime_change_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let base = write(&sample(), 1, dir.path()).unwrap();
        assert_ne!(base, write(&sample(), 2, dir.path()).unwrap());
        let mut chmod = sample();
        chmod[0].mode = 0o700;
        assert_ne!(base, write(&chmod, 1, dir.path()).unwrap());
        let mut chown = sample();
        chown[1] = chown[1].clone().owned_by(65532, 65532);
        assert_ne!(base, write(&chown, 1, dir.path()).unwrap());
    }

    #[test]
    fn parents_are_added_sorted_with_fixed_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let blob = write(&sample(), 42, dir.path()).unwrap();
        let entries = read(&dir.path().join(blob.digest));
        let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "etc/",
                "etc/passwd",
                "tmp/",
                "usr/",
                "usr/lib/",
                "usr/lib/ssl/",
                "usr/lib/ssl/cert.pem",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/tool",
                "var/",
                "var/cache/",
                "var/cache/lockstep/"
            ]
        );
        assert!(entries.iter().all(|e| e.4 == 42));
        let find = |p: &str| entries.iter().find(|e| e.0 == p).unwrap().clone();
        assert_eq!(find("tmp/").2, 0o1777);
        assert_eq!(find("var/cache/lockstep/").3, 65532);
        assert_eq!(find("usr/lib/ssl/cert.pem").1, tar::EntryType::Symlink);
        assert_eq!(find("usr/").2, 0o755);
    }

    #[test]
    fn bad_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["relative", "/a/../b", "/a//b", "/"] {
            assert!(write(&[Entry::dir(bad, 0o755)], 0, dir.path()).is_err(), "{bad}");
        }
        let twice = [Entry::dir("/a", 0o755), Entry::dir("/a/", 0o755)];
        assert!(write(&twice, 0, dir.path()).is_err());
        let under_file = [Entry::bytes("/a", b"x".to_vec(), 0o644), Entry::bytes("/a/b", b"y".to_vec(), 0o644)];
        assert!(write(&under_file, 0, dir.path()).is_err());
    }
}
