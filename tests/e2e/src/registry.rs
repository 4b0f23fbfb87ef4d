//! A real OCI registry on loopback for OCI source tests: the CNCF distribution registry built by
//! `cargo xtask tools` from tests/registry, with htpasswd (bcrypt) auth and TLS from a test CA,
//! storing blobs on the filesystem (so a test can tamper with one). Charts are pushed with the
//! pinned helm; manifest artifacts with [`Registry::push_artifact`] (oci-client).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::cluster::workspace_root;
use crate::gitserver::{TestCa, free_port};

/// The registry's user.
pub const REGISTRY_USER: &str = "pusher";
/// The registry user's password.
pub const REGISTRY_PASSWORD: &str = "s3cret-registry-pass";
/// Flux's media type for a tar+gzip layer of manifests.
pub const FLUX_CONTENT: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// The distribution registry on a free loopback port; killed on drop.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The HTTPS port.
    pub port: u16,
    /// The CA that signed the server certificate.
    pub ca: TestCa,
}

impl Registry {
    /// Writes the config, htpasswd and certificates, and starts the registry.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let ca = TestCa::generate(dir.path())?;
        let hash = bcrypt::hash_with_result(REGISTRY_PASSWORD, 5)?.format_for_version(bcrypt::Version::TwoY);
        std::fs::write(dir.path().join("htpasswd"), format!("{REGISTRY_USER}:{hash}\n"))?;
        let mut registry = Self { dir, child: None, port: free_port(), ca };
        registry.resume()?;
        Ok(registry)
    }

    /// (Re)starts the registry on its port, over the same storage.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let root = self.dir.path();
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {cert}\n    key: {key}\n\
             auth:\n  htpasswd:\n    realm: lockstep-test\n    path: {htpasswd}\n",
            storage = root.join("storage").display(),
            port = self.port,
            cert = self.ca.cert.display(),
            key = self.ca.key.display(),
            htpasswd = root.join("htpasswd").display(),
        );
        std::fs::write(root.join("config.yml"), config)?;
        let log = root.join("registry.log");
        let mut child = Command::new(registry_binary())
            .arg("serve")
            .arg(root.join("config.yml"))
            .env("OTEL_TRACES_EXPORTER", "none")
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::from(std::fs::OpenOptions::new().append(true).open(&log)?))
            .spawn()
            .with_context(|| format!("starting {}", registry_binary().display()))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("registry exited with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!("registry did not listen: {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Stops the registry: connections are refused until [`Registry::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A docker-config Secret for this registry (`user`, `password`) with its CA, labelled
    /// `repo-creds` so lockstep reads it for every repository of the registry.
    pub fn docker_config_secret(&self, user: &str, password: &str) -> serde_json::Value {
        let config = serde_json::json!({"auths": {self.host(): {"username": user, "password": password}}});
        serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "registry", "labels": {"lockstep.dev/secret-type": "repo-creds"}},
            "stringData": {".dockerconfigjson": config.to_string(), "caData": self.ca.ca_pem},
        })
    }

    /// A `repository` Secret for `url` on this registry with `password`, and the registry's CA.
    pub fn repository_secret(&self, name: &str, url: &str, password: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "labels": {"lockstep.dev/secret-type": "repository"}},
            "stringData": {"url": url, "username": REGISTRY_USER, "password": password, "caData": self.ca.ca_pem},
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA certificate file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The file holding a blob's bytes in the registry's storage (to tamper with it).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.path().join(format!("storage/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }

    /// How many `GET` requests whose path contains `needle` the registry answered so far.
    pub fn gets(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains("\"GET ") && l.contains(needle)).count()
    }

    /// The registry's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Packages the chart in `chart_dir` with the pinned helm and pushes it under
    /// `oci://<host>/<namespace>`; returns the manifest digest helm printed.
    pub fn push_chart(&self, chart_dir: &Path, namespace: &str) -> anyhow::Result<String> {
        let out = self.dir.path().join("packages");
        std::fs::create_dir_all(&out)?;
        let helm = crate::controller::tool_path("LOCKSTEP_HELM", "helm");
        let env = [
            ("HELM_REGISTRY_CONFIG", self.dir.path().join("helm-registry.json")),
            ("HELM_CACHE_HOME", self.dir.path().join("helm-cache")),
            ("HELM_CONFIG_HOME", self.dir.path().join("helm-config")),
        ];
        let packaged = run(Command::new(&helm).envs(env.clone()).arg("package").arg(chart_dir).arg("-d").arg(&out))?;
        let tgz = packaged.rsplit(": ").next().map(str::trim).context("helm package printed no path")?.to_string();
        let ca = self.ca_file();
        let pushed = run(Command::new(&helm)
            .envs(env)
            .args(["push", &tgz])
            .arg(format!("oci://{}/{namespace}", self.host()))
            .args([
                "--ca-file",
                &ca.display().to_string(),
                "--username",
                REGISTRY_USER,
                "--password",
                REGISTRY_PASSWORD,
            ]))?;
        pushed
            .split_whitespace()
            .find(|w| w.starts_with("sha256:"))
            .map(String::from)
            .with_context(|| format!("helm push printed no digest: {pushed}"))
    }

    fn client(&self) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = std::fs::read(self.ca_file())?;
        let config = ClientConfig {
            extra_root_certificates: vec![Certificate { encoding: CertificateEncoding::Pem, data: ca }],
            ..Default::default()
        };
        Ok(Client::try_from(config)?)
    }

    fn auth() -> RegistryAuth {
        RegistryAuth::Basic(REGISTRY_USER.into(), REGISTRY_PASSWORD.into())
    }

    /// Pushes `layer` (tar+gzip bytes) as a manifest artifact with media type `media_type` to
    /// `<repository>:<tag>`; returns the manifest digest and the layer digest.
    pub async fn push_artifact(
        &self,
        repository: &str,
        tag: &str,
        layer: Vec<u8>,
        media_type: &str,
    ) -> anyhow::Result<(String, String)> {
        let client = self.client()?;
        let reference = Reference::with_tag(self.host(), repository.into(), tag.into());
        let layer_digest = format!("sha256:{}", hex::encode(ring::digest::digest(&ring::digest::SHA256, &layer)));
        let layers = [ImageLayer::new(layer, media_type.into(), None)];
        let config = Config::new(b"{}".to_vec(), "application/vnd.cncf.flux.config.v1+json".into(), None);
        client.push(&reference, &layers, config, &Self::auth(), None).await?;
        let digest = client.fetch_manifest_digest(&reference, &Self::auth()).await?;
        Ok((digest, layer_digest))
    }

    /// Signs the manifest `digest` of `repository` as `cosign sign --key` does (a simple-signing
    /// payload under `sha256-<hex>.sig`), with a fresh ECDSA P-256 key; returns the public key PEM.
    pub async fn cosign_sign(&self, repository: &str, digest: &str) -> anyhow::Result<String> {
        use base64::Engine as _;
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating a P-256 key"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| anyhow::anyhow!("reading the P-256 key"))?;
        let payload = serde_json::json!({
            "critical": {"identity": {"docker-reference": format!("{}/{repository}", self.host())},
                         "image": {"docker-manifest-digest": digest},
                         "type": "cosign container image signature"},
            "optional": null,
        })
        .to_string();
        let signature = pair.sign(&rng, payload.as_bytes()).map_err(|_| anyhow::anyhow!("signing"))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let annotations = [("dev.cosignproject.cosign/signature".to_string(), b64.encode(signature.as_ref()))].into();
        let layers = [ImageLayer::new(
            payload.into_bytes(),
            "application/vnd.dev.cosign.simplesigning.v1+json".into(),
            Some(annotations),
        )];
        let config = Config::new(b"{}".to_vec(), "application/vnd.oci.image.config.v1+json".into(), None);
        let tag = format!("{}.sig", digest.replacen(':', "-", 1));
        let reference = Reference::with_tag(self.host(), repository.into(), tag);
        self.client()?.push(&reference, &layers, config, &Self::auth(), None).await?;
        const P256_SPKI_PREFIX: [u8; 26] = [
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        let spki = [&P256_SPKI_PREFIX[..], pair.public_key().as_ref()].concat();
        Ok(format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", b64.encode(spki)))
    }

    /// Points `<repository>:<to>` at the manifest `<repository>:<from>` points at.
    pub async fn retag(&self, repository: &str, from: &str, to: &str) -> anyhow::Result<()> {
        let client = self.client()?;
        let source = Reference::with_tag(self.host(), repository.into(), from.into());
        let media = oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
        let (bytes, _) = client.pull_manifest_raw(&source, &Self::auth(), &[media]).await?;
        let target = Reference::with_tag(self.host(), repository.into(), to.into());
        client.push_manifest_raw(&target, bytes.to_vec(), http::HeaderValue::from_static(media)).await?;
        Ok(())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The registry binary: `$LOCKSTEP_REGISTRY`, else where `cargo xtask tools` builds it.
pub fn registry_binary() -> PathBuf {
    std::env::var_os("LOCKSTEP_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/tools/registry/bin/registry"))
}

/// A tar+gzip layer of `files` (path, content), written raw so tests can include `../` paths;
/// an entry whose content starts with `->` is a symbolic link to the rest.
pub fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        let name = path.as_bytes();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_mode(0o644);
        match content.strip_prefix("->") {
            Some(link) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_link_name(link).expect("link name");
                header.set_cksum();
                builder.append(&header, std::io::empty()).expect("tar entry");
            }
            None => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.len() as u64);
                header.set_cksum();
                builder.append(&header, content.as_bytes()).expect("tar entry");
            }
        }
    }
    builder.into_inner().and_then(|gz| gz.finish()).expect("gzip")
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
