//! The OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) and its archive: the image
//! config, manifest and index built with the `oci-spec` types and written as canonical JSON (keys
//! sorted, no whitespace), so the same layers and metadata always give the same manifest digest.

use std::collections::HashMap;
use std::fs;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayoutBuilder, Os, PlatformBuilder, RootFsBuilder,
    Sha256Digest,
};
use serde::Serialize;
use serde_json::Value;

use super::layer::{self, Entry, LayerBlob};

/// The uid and gid the image runs as (the `lockstep` user of its /etc/passwd).
pub const USER_ID: u32 = 65532;

/// What the image config and labels say about the image.
#[derive(Debug, Clone)]
pub struct Meta {
    /// `org.opencontainers.image.title` and the image name.
    pub title: String,
    /// The lockstep version (`org.opencontainers.image.version`, also the index's ref name).
    pub version: String,
    /// The git commit built (`org.opencontainers.image.revision`).
    pub revision: String,
    /// Where the source lives (`org.opencontainers.image.source`).
    pub source: String,
    /// The commit's time, RFC 3339 (`created`, so a rebuild of one commit is identical).
    pub created: String,
    /// The process environment.
    pub env: Vec<String>,
    /// The entrypoint.
    pub entrypoint: Vec<String>,
    /// The default arguments.
    pub cmd: Vec<String>,
}

impl Meta {
    /// The `org.opencontainers.image.*` labels (also the manifest's annotations).
    pub fn labels(&self) -> HashMap<String, String> {
        [
            ("title", &self.title),
            ("version", &self.version),
            ("revision", &self.revision),
            ("source", &self.source),
            ("created", &self.created),
        ]
        .into_iter()
        .map(|(k, v)| (format!("org.opencontainers.image.{k}"), v.clone()))
        .collect()
    }
}

/// A layer with the line its history entry shows.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// The blob.
    pub blob: LayerBlob,
    /// What it holds, for `history[].created_by`.
    pub created_by: String,
}

/// `value` as compact JSON with every object's keys sorted (oci-spec keeps labels and annotations
/// in `HashMap`s, whose order changes from run to run).
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>> {
    fn sort(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().map(|(k, v)| (k, sort(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    Ok(serde_json::to_vec(&sort(serde_json::to_value(value)?))?)
}

/// The image configuration: amd64 Linux, the user, entrypoint, environment, labels, and one
/// diff id and history entry per layer.
pub fn image_config(meta: &Meta, layers: &[BuiltLayer]) -> Result<ImageConfiguration> {
    let config = ConfigBuilder::default()
        .user(format!("{USER_ID}:{USER_ID}"))
        .env(meta.env.clone())
        .entrypoint(meta.entrypoint.clone())
        .cmd(meta.cmd.clone())
        .working_dir("/")
        .labels(meta.labels())
        .build()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(layers.iter().map(|l| format!("sha256:{}", l.blob.diff_id)).collect::<Vec<_>>())
        .build()?;
    let history = layers
        .iter()
        .map(|l| HistoryBuilder::default().created(meta.created.clone()).created_by(l.created_by.clone()).build())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ImageConfigurationBuilder::default()
        .created(meta.created.clone())
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(config)
        .rootfs(rootfs)
        .history(history)
        .build()?)
}

/// Writes `bytes` as a blob and returns its descriptor of `media_type`.
fn put_blob(blobs: &Path, media_type: MediaType, bytes: &[u8]) -> Result<Descriptor> {
    let hex = layer::sha256_hex(bytes);
    fs::write(blobs.join(&hex), bytes).with_context(|| format!("writing blob {hex}"))?;
    descriptor(media_type, &hex, bytes.len() as u64)
}

fn descriptor(media_type: MediaType, hex: &str, size: u64) -> Result<Descriptor> {
    let digest: Sha256Digest = hex.parse()?;
    Ok(Descriptor::new(media_type, size, digest))
}

/// Writes config, manifest, `index.json` and `oci-layout` into `dir` (whose `blobs/sha256` already
/// holds the layers) and returns the manifest's descriptor.
pub fn write(dir: &Path, meta: &Meta, layers: &[BuiltLayer]) -> Result<Descriptor> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs)?;
    let config = put_blob(&blobs, MediaType::ImageConfig, &canonical_json(&image_config(meta, layers)?)?)?;
    let layer_descriptors = layers
        .iter()
        .map(|l| descriptor(MediaType::ImageLayerGzip, &l.blob.digest, l.blob.size))
        .collect::<Result<Vec<_>>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layer_descriptors)
        .annotations(meta.labels())
        .build()?;
    let manifest = put_blob(&blobs, MediaType::ImageManifest, &canonical_json(&manifest)?)?;
    let platform = PlatformBuilder::default().architecture(Arch::Amd64).os(Os::Linux).build()?;
    let reference = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(manifest.digest().clone())
        .size(manifest.size())
        .platform(platform)
        .annotations(HashMap::from([("org.opencontainers.image.ref.name".to_owned(), meta.version.clone())]))
        .build()?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![reference])
        .build()?;
    fs::write(dir.join("index.json"), canonical_json(&index)?)?;
    let layout = OciLayoutBuilder::default().image_layout_version("1.0.0").build()?;
    fs::write(dir.join("oci-layout"), canonical_json(&layout)?)?;
    Ok(manifest)
}

/// Writes the layout directory `dir` as one tar at `archive` (what `skopeo copy oci-archive:`,
/// `podman load` and `crane push` read): `oci-layout`, `index.json` and every blob, with the same
/// fixed metadata as the layers.
pub fn archive(dir: &Path, archive: &Path, mtime: u64) -> Result<()> {
    let mut entries = vec![
        Entry::host_file("/oci-layout", dir.join("oci-layout"), 0o644),
        Entry::host_file("/index.json", dir.join("index.json"), 0o644),
        Entry::dir("/blobs/sha256", 0o755),
    ];
    for blob in fs::read_dir(dir.join("blobs").join("sha256"))? {
        let blob = blob?;
        let name = blob.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            entries.push(Entry::host_file(&format!("/blobs/sha256/{name}"), blob.path(), 0o644));
        }
    }
    let partial = archive.with_extension("tar.partial");
    let file = fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let out = layer::write_tar(&entries, mtime, BufWriter::new(file))?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&partial, archive).with_context(|| format!("writing {}", archive.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            title: "lockstep".into(),
            version: "0.1.0".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            source: "https://lockstep.dev/lockstep".into(),
            created: "2026-12-03T10:00:00+00:00".into(),
            env: vec!["PATH=/usr/local/bin".into(), "HOME=/tmp".into()],
            entrypoint: vec!["/usr/local/bin/lockstep".into()],
            cmd: vec!["controller".into()],
        }
    }

    fn layers(dir: &Path) -> Vec<BuiltLayer> {
        let blobs = dir.join("blobs").join("sha256");
        let blob = layer::write(&[Entry::bytes("/etc/passwd", b"x".to_vec(), 0o644)], 0, &blobs).unwrap();
        vec![BuiltLayer { blob, created_by: "base".into() }]
    }

    #[test]
    fn config_runs_as_the_non_root_user_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let layers = layers(dir.path());
        let json: Value =
            serde_json::from_slice(&canonical_json(&image_config(&meta(), &layers).unwrap()).unwrap()).unwrap();
        assert_eq!(json["config"]["User"], "65532:65532");
        assert_eq!(json["config"]["Entrypoint"][0], "/usr/local/bin/lockstep");
        assert_eq!(json["config"]["Cmd"][0], "controller");
        assert_eq!(json["config"]["Labels"]["org.opencontainers.image.version"], "0.1.0");
        assert_eq!(json["config"]["Labels"]["org.opencontainers.image.revision"], meta().revision);
        assert_eq!(json["config"]["Labels"]["org.opencontainers.image.created"], meta().created);
        assert_eq!(json["architecture"], "amd64");
        assert_eq!(json["os"], "linux");
        assert_eq!(json["rootfs"]["diff_ids"][0], format!("sha256:{}", layers[0].blob.diff_id));
        assert_eq!(json["history"][0]["created_by"], "base");
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": 1, "a": {"z": [{"y": 1, "x": 2}], "c": 3}});
        assert_eq!(
            String::from_utf8(canonical_json(&value).unwrap()).unwrap(),
            r#"{"a":{"c":3,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_manifest_and_archive() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = write(a.path(), &meta(), &layers(a.path())).unwrap();
        let second = write(b.path(), &meta(), &layers(b.path())).unwrap();
        assert_eq!(first, second);
        archive(a.path(), &a.path().join("out.tar"), 0).unwrap();
        archive(b.path(), &b.path().join("out.tar"), 0).unwrap();
        assert_eq!(fs::read(a.path().join("out.tar")).unwrap(), fs::read(b.path().join("out.tar")).unwrap());
        let index: Value = serde_json::from_slice(&fs::read(a.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"][0]["digest"], first.digest().to_string());
        assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "0.1.0");
        let mut other = meta();
        other.revision = "f".repeat(40);
        assert_ne!(write(b.path(), &other, &layers(b.path())).unwrap(), first);
    }
}
