//! Reading an image back as a runtime would: the archive unpacked, `oci-layout` and `index.json`
//! read, the manifest, config and every layer checked against its descriptor's digest and size
//! (and each layer's uncompressed stream against the config's `diff_id`), then the layers unpacked
//! in order into a root file system.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType, OciLayout};
use sha2::{Digest, Sha256};

/// An image read from a layout, every blob verified.
#[derive(Debug)]
pub struct Image {
    /// The manifest's descriptor from `index.json`.
    pub reference: Descriptor,
    /// The manifest.
    pub manifest: ImageManifest,
    /// The image configuration.
    pub config: ImageConfiguration,
}

/// A reader that hashes what it reads.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// The path of `descriptor`'s blob in `layout`, after checking it is a sha256 digest.
fn blob_path(layout: &Path, descriptor: &Descriptor) -> Result<std::path::PathBuf> {
    let hex =
        descriptor.as_digest_sha256().with_context(|| format!("{} is not a sha256 digest", descriptor.digest()))?;
    ensure!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "bad digest {}", descriptor.digest());
    Ok(layout.join("blobs").join("sha256").join(hex))
}

/// Reads a whole blob and checks its size and digest.
fn read_blob(layout: &Path, descriptor: &Descriptor) -> Result<Vec<u8>> {
    let path = blob_path(layout, descriptor)?;
    let bytes = fs::read(&path).with_context(|| format!("reading blob {}", descriptor.digest()))?;
    ensure!(
        bytes.len() as u64 == descriptor.size(),
        "blob {} has {} bytes, its descriptor says {}",
        descriptor.digest(),
        bytes.len(),
        descriptor.size()
    );
    let actual = hex::encode(Sha256::digest(&bytes));
    ensure!(
        Some(actual.as_str()) == descriptor.as_digest_sha256(),
        "blob {} hashes to sha256:{actual}",
        descriptor.digest()
    );
    Ok(bytes)
}

/// Unpacks the image archive `tarball` into `dir` and reads the image as [`read`] does.
pub fn unpack_archive(tarball: &Path, dir: &Path) -> Result<Image> {
    let file = File::open(tarball).with_context(|| format!("opening {}", tarball.display()))?;
    tar::Archive::new(file).unpack(dir).with_context(|| format!("unpacking {}", tarball.display()))?;
    read(dir)
}

/// Reads the one image of the layout `dir`, verifying the manifest, the config and every layer.
pub fn read(dir: &Path) -> Result<Image> {
    let layout = OciLayout::from_file(dir.join("oci-layout")).context("reading oci-layout")?;
    ensure!(layout.image_layout_version() == "1.0.0", "unknown layout version {}", layout.image_layout_version());
    let index = ImageIndex::from_file(dir.join("index.json")).context("reading index.json")?;
    let [reference] = index.manifests().as_slice() else {
        bail!("index.json lists {} manifests, expected one", index.manifests().len())
    };
    ensure!(*reference.media_type() == MediaType::ImageManifest, "index.json points at a {}", reference.media_type());
    let manifest = ImageManifest::from_reader(read_blob(dir, reference)?.as_slice()).context("parsing the manifest")?;
    ensure!(
        *manifest.config().media_type() == MediaType::ImageConfig,
        "the config is a {}",
        manifest.config().media_type()
    );
    let config =
        ImageConfiguration::from_reader(read_blob(dir, manifest.config())?.as_slice()).context("parsing the config")?;
    let diff_ids = config.rootfs().diff_ids();
    ensure!(
        diff_ids.len() == manifest.layers().len(),
        "{} layers but {} diff ids",
        manifest.layers().len(),
        diff_ids.len()
    );
    for layer in manifest.layers() {
        ensure!(
            *layer.media_type() == MediaType::ImageLayerGzip,
            "layer {} is a {}",
            layer.digest(),
            layer.media_type()
        );
        let path = blob_path(dir, layer)?;
        let len = fs::metadata(&path).with_context(|| format!("layer {} is missing", layer.digest()))?.len();
        ensure!(len == layer.size(), "layer {} has {len} bytes, its descriptor says {}", layer.digest(), layer.size());
    }
    Ok(Image { reference: reference.clone(), manifest, config })
}

/// Unpacks every layer of `image` in order into `rootfs`, keeping modes and owners, and checks each
/// compressed blob against its digest and each uncompressed stream against its `diff_id`.
pub fn extract(dir: &Path, image: &Image, rootfs: &Path) -> Result<()> {
    fs::create_dir_all(rootfs)?;
    for (layer, diff_id) in image.manifest.layers().iter().zip(image.config.rootfs().diff_ids()) {
        let file = File::open(blob_path(dir, layer)?)?;
        let mut compressed = HashingReader { inner: file, hasher: Sha256::new(), read: 0 };
        let gz = flate2::read::GzDecoder::new(&mut compressed);
        let mut uncompressed = HashingReader { inner: gz, hasher: Sha256::new(), read: 0 };
        {
            let mut archive = tar::Archive::new(&mut uncompressed);
            archive.set_preserve_permissions(true);
            archive.set_preserve_ownerships(true);
            archive.set_overwrite(true);
            for entry in archive.entries()? {
                let mut entry = entry?;
                let path = entry.path()?.into_owned();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                ensure!(
                    !name.starts_with(".wh."),
                    "layer {} has a whiteout {}: not expected here",
                    layer.digest(),
                    path.display()
                );
                entry.unpack_in(rootfs).with_context(|| format!("unpacking {}", path.display()))?;
            }
        }
        io::copy(&mut uncompressed, &mut io::sink())?;
        let diff = format!("sha256:{}", hex::encode(uncompressed.hasher.finalize()));
        ensure!(&diff == diff_id, "layer {} unpacks to {diff}, the config says {diff_id}", layer.digest());
        io::copy(&mut compressed, &mut io::sink())?;
        let digest = hex::encode(compressed.hasher.finalize());
        ensure!(
            Some(digest.as_str()) == layer.as_digest_sha256(),
            "layer {} hashes to sha256:{digest}",
            layer.digest()
        );
        ensure!(
            compressed.read == layer.size(),
            "layer {} read {} bytes, its descriptor says {}",
            layer.digest(),
            compressed.read,
            layer.size()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer::{self, Entry};
    use crate::image::layout::{self, BuiltLayer, Meta};
    use std::os::unix::fs::MetadataExt;

    fn build(dir: &Path) -> Meta {
        let meta = Meta {
            title: "t".into(),
            version: "1.0.0".into(),
            revision: "r".into(),
            source: "s".into(),
            created: "2026-01-01T00:00:00Z".into(),
            env: vec![],
            entrypoint: vec!["/bin/t".into()],
            cmd: vec![],
        };
        let blobs = dir.join("blobs").join("sha256");
        let base =
            layer::write(&[Entry::bytes("/etc/a", b"one".to_vec(), 0o640), Entry::dir("/tmp", 0o1777)], 0, &blobs)
                .unwrap();
        let top =
            layer::write(&[Entry::bytes("/etc/a", b"two".to_vec(), 0o600), Entry::symlink("/etc/b", "a")], 0, &blobs)
                .unwrap();
        let layers = [base, top].map(|blob| BuiltLayer { blob, created_by: "x".into() });
        layout::write(dir, &meta, &layers).unwrap();
        meta
    }

    #[test]
    fn a_written_image_reads_back_and_later_layers_win() {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        layout::archive(dir.path(), &dir.path().join("image.tar"), 0).unwrap();
        let unpacked = tempfile::tempdir().unwrap();
        let image = unpack_archive(&dir.path().join("image.tar"), unpacked.path()).unwrap();
        assert_eq!(image.manifest.layers().len(), 2);
        let rootfs = unpacked.path().join("rootfs");
        extract(unpacked.path(), &image, &rootfs).unwrap();
        assert_eq!(fs::read(rootfs.join("etc/a")).unwrap(), b"two");
        assert_eq!(fs::metadata(rootfs.join("etc/a")).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(fs::metadata(rootfs.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
        assert_eq!(fs::read_link(rootfs.join("etc/b")).unwrap(), Path::new("a"));
    }

    #[test]
    fn a_changed_blob_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let image = read(dir.path()).unwrap();
        let layer = blob_path(dir.path(), &image.manifest.layers()[1]).unwrap();
        let mut bytes = fs::read(&layer).unwrap();
        let last = bytes.len() - 9;
        bytes[last] ^= 0xff;
        fs::write(&layer, &bytes).unwrap();
        assert!(extract(dir.path(), &image, &dir.path().join("rootfs")).is_err(), "a corrupt layer unpacked");
        let config = blob_path(dir.path(), image.manifest.config()).unwrap();
        let mut json = fs::read(&config).unwrap();
        let at = json.windows(5).position(|w| w == b"amd64").unwrap();
        json[at..at + 5].copy_from_slice(b"arm64");
        fs::write(&config, &json).unwrap();
        assert!(read(dir.path()).unwrap_err().to_string().contains("hashes to"));
        fs::write(&config, b"{}").unwrap();
        assert!(read(dir.path()).unwrap_err().to_string().contains("bytes"));
    }
}
