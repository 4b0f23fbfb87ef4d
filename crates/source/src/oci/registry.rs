//! The registry side of OCI sources, over `oci-client`: resolving a tag or range to a manifest
//! digest, reading the manifest, streaming one layer to a file while hashing and counting it.
//! Every failure becomes a [`SourceError`] with the reason the condition shows.

use std::path::Path;

use futures::StreamExt;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::{IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::OciAuth;
use super::reference::{OciPin, OciTarget, highest_tag, version_tags};
use crate::error::SourceError;

/// Media type of a Helm chart's content layer (Helm's OCI format).
pub(crate) const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// A registry client for one request's credentials and CA.
pub(crate) struct Registry {
    client: Client,
    auth: RegistryAuth,
    name: String,
}

impl Registry {
    /// A client trusting the system's CAs plus `auth.ca_data`, authenticating with `auth`'s user and password.
    pub(crate) fn connect(
        target: &OciTarget,
        auth: &OciAuth,
        timeout: std::time::Duration,
    ) -> Result<Self, SourceError> {
        // reqwest is built without a default crypto provider: the process uses ring, as kube does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let name = target.name();
        let extra_root_certificates = match auth.ca_data.as_deref() {
            Some(pem) => vec![Certificate { encoding: CertificateEncoding::Pem, data: pem.as_bytes().to_vec() }],
            None => Vec::new(),
        };
        let config = ClientConfig {
            protocol: ClientProtocol::Https,
            extra_root_certificates,
            connect_timeout: Some(timeout.min(std::time::Duration::from_secs(10))),
            read_timeout: Some(timeout),
            platform_resolver: None,
            ..Default::default()
        };
        let client =
            Client::try_from(config).map_err(|e| SourceError::Tls { repo: name.clone(), message: e.to_string() })?;
        let auth = match (&auth.username, &auth.password) {
            (Some(user), Some(password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            (None, Some(token)) => RegistryAuth::Bearer(token.clone()),
            _ => RegistryAuth::Anonymous,
        };
        Ok(Self { client, auth, name })
    }

    /// The manifest digest `pin` names now, and the tag that led to it (if any). A digest pin is
    /// still asked for (one HEAD request), so a cached artifact is never read with credentials the
    /// registry refuses, and an outage is noticed.
    pub(crate) async fn resolve(&self, target: &OciTarget) -> Result<(String, Option<String>), SourceError> {
        let tag = match &target.pin {
            OciPin::Digest { digest, tag } => {
                let reference =
                    Reference::with_digest(target.registry.clone(), target.repository.clone(), digest.clone());
                self.client
                    .fetch_manifest_digest(&reference, &self.auth)
                    .await
                    .map_err(|e| self.error(e, Some(digest)))?;
                return Ok((digest.clone(), tag.clone()));
            }
            OciPin::Tag(tag) => tag.clone(),
            OciPin::Range(range) => {
                let tags = self.tags(target).await?;
                highest_tag(range, &tags).ok_or_else(|| SourceError::NoMatchingTag {
                    repo: self.name.clone(),
                    range: range.clone(),
                    tags: version_tags(&tags),
                })?
            }
        };
        let reference = Reference::with_tag(target.registry.clone(), target.repository.clone(), tag.clone());
        let digest =
            self.client.fetch_manifest_digest(&reference, &self.auth).await.map_err(|e| self.error(e, Some(&tag)))?;
        let digest = super::reference::checked_digest(&digest)
            .map_err(|e| SourceError::InvalidArtifact { repo: self.name.clone(), message: e })?;
        Ok((digest, Some(tag)))
    }

    /// Every tag of the repository (paged).
    async fn tags(&self, target: &OciTarget) -> Result<Vec<String>, SourceError> {
        let reference = Reference::with_tag(target.registry.clone(), target.repository.clone(), "latest".into());
        let mut tags: Vec<String> = Vec::new();
        loop {
            const PAGE: usize = 1000;
            let page = self
                .client
                .list_tags(&reference, &self.auth, Some(PAGE), tags.last().map(String::as_str))
                .await
                .map_err(|e| self.error(e, None))?;
            let full = page.tags.len() >= PAGE;
            tags.extend(page.tags);
            if !full || tags.len() > 100_000 {
                return Ok(tags);
            }
        }
    }

    /// The image manifest at `digest`, verified against it.
    pub(crate) async fn manifest(&self, target: &OciTarget, digest: &str) -> Result<OciImageManifest, SourceError> {
        let reference = Reference::with_digest(target.registry.clone(), target.repository.clone(), digest.into());
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&reference, &self.auth, &[OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE])
            .await
            .map_err(|e| self.error(e, Some(digest)))?;
        let actual = sha256(&bytes);
        if actual != digest {
            return Err(SourceError::DigestMismatch {
                repo: self.name.clone(),
                what: "the manifest".into(),
                expected: digest.into(),
                actual,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| SourceError::InvalidArtifact {
            repo: self.name.clone(),
            message: format!("manifest {digest} is not an image manifest: {e}"),
        })
    }

    /// Checks that a cosign signature of `digest` by `key` is stored next to it (`sha256-<hex>.sig`).
    pub(crate) async fn verify_signature(
        &self,
        target: &OciTarget,
        digest: &str,
        key: &[u8],
    ) -> Result<(), SourceError> {
        let refused = |message: String| SourceError::SignatureInvalid { repo: self.name.clone(), message };
        let tag = super::cosign::signature_tag(digest);
        let reference = Reference::with_tag(target.registry.clone(), target.repository.clone(), tag.clone());
        let accepted = [OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE];
        let (bytes, _) = match self.client.pull_manifest_raw(&reference, &self.auth, &accepted).await {
            Ok(found) => found,
            Err(e) => {
                return Err(match self.error(e, Some(&tag)) {
                    SourceError::RevisionNotFound { .. } => {
                        refused(format!("{digest} has no cosign signature ({tag})"))
                    }
                    other => other,
                });
            }
        };
        let manifest: OciImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| refused(format!("the signature manifest {tag}: {e}")))?;
        let mut reasons = Vec::new();
        for layer in manifest.layers.iter().filter(|l| l.media_type == super::cosign::SIMPLE_SIGNING) {
            let Some(signature) = layer.annotations.as_ref().and_then(|a| a.get(super::cosign::SIGNATURE_ANNOTATION))
            else {
                continue;
            };
            if layer.size > 64 * 1024 {
                reasons.push(format!("payload {} is larger than 64 KiB", layer.digest));
                continue;
            }
            let mut payload = Vec::new();
            self.client.pull_blob(&reference, layer, &mut payload).await.map_err(|e| self.error(e, Some(&tag)))?;
            match super::cosign::verify(key, digest, &payload, signature) {
                Ok(()) => return Ok(()),
                Err(reason) => reasons.push(reason),
            }
        }
        if reasons.is_empty() {
            reasons.push("no signed payload".into());
        }
        Err(refused(format!("no valid cosign signature of {digest}: {}", reasons.join("; "))))
    }

    /// Streams `layer` into `file`, refusing more than `max_bytes` and content whose sha256 is not
    /// the layer's digest.
    pub(crate) async fn download(
        &self,
        target: &OciTarget,
        layer: &OciDescriptor,
        file: &Path,
        max_bytes: u64,
    ) -> Result<(), SourceError> {
        let too_large = || SourceError::ArtifactTooLarge {
            repo: self.name.clone(),
            what: format!("layer {}", layer.digest),
            limit: max_bytes,
        };
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > max_bytes {
            return Err(too_large());
        }
        let reference =
            Reference::with_digest(target.registry.clone(), target.repository.clone(), layer.digest.clone());
        let cache_error = |e: std::io::Error| SourceError::cache(file, e);
        let mut stream =
            self.client.pull_blob_stream(&reference, layer).await.map_err(|e| self.error(e, Some(&layer.digest)))?;
        let mut out = tokio::fs::File::create(file).await.map_err(cache_error)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.stream_error(e, &layer.digest))?;
            size = size.saturating_add(chunk.len() as u64);
            if size > max_bytes {
                return Err(too_large());
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(cache_error)?;
        }
        out.flush().await.map_err(cache_error)?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != layer.digest {
            return Err(SourceError::DigestMismatch {
                repo: self.name.clone(),
                what: format!("layer {}", layer.digest),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(())
    }

    /// A failure while streaming a layer: oci-client's own digest check (the whole blob read) is a
    /// [`SourceError::DigestMismatch`]; anything else a broken transfer.
    fn stream_error(&self, err: std::io::Error, digest: &str) -> SourceError {
        let mismatch = err.get_ref().and_then(|inner| inner.downcast_ref::<DigestError>());
        match mismatch {
            Some(DigestError::VerificationError { expected, actual }) => SourceError::DigestMismatch {
                repo: self.name.clone(),
                what: format!("layer {digest}"),
                expected: expected.clone(),
                actual: actual.clone(),
            },
            _ => SourceError::unreachable(&self.name, err),
        }
    }

    /// The reason a registry failure is shown with: refused credentials, a missing tag or digest,
    /// an unreachable or failing server, an unverifiable certificate.
    fn error(&self, err: OciDistributionError, revision: Option<&str>) -> SourceError {
        let repo = self.name.clone();
        let not_found =
            || SourceError::RevisionNotFound { repo: repo.clone(), revision: revision.unwrap_or_default().to_string() };
        match err {
            OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
                SourceError::AuthenticationFailed { repo, message: "the registry refused the credentials".into() }
            }
            OciDistributionError::ImageManifestNotFoundError(_) => not_found(),
            OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
                SourceError::DigestMismatch { repo, what: "the manifest".into(), expected, actual }
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                let message = envelope.to_string();
                if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                    SourceError::AuthenticationFailed { repo, message }
                } else if codes.iter().any(|c| {
                    matches!(c, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::BlobUnknown)
                }) {
                    not_found()
                } else {
                    SourceError::InvalidArtifact { repo, message }
                }
            }
            OciDistributionError::ServerError { code: 401 | 403, .. } => {
                SourceError::AuthenticationFailed { repo, message: "the registry refused the credentials".into() }
            }
            OciDistributionError::ServerError { code: 404, .. } => not_found(),
            OciDistributionError::ServerError { code, message, .. } if code >= 500 || code == 429 => {
                SourceError::unreachable(&repo, format!("HTTP {code}: {}", message.trim()))
            }
            OciDistributionError::RequestError(e) => request_error(&repo, &e, e.is_timeout()),
            other => SourceError::InvalidArtifact { repo, message: other.to_string() },
        }
    }
}

/// A transport failure: TLS verification, or the server not answering.
fn request_error(repo: &str, err: &(dyn std::error::Error + 'static), timed_out: bool) -> SourceError {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    if chain.contains("certificate") || chain.contains("UnknownIssuer") {
        SourceError::Tls { repo: repo.to_string(), message: chain }
    } else if timed_out {
        SourceError::Timeout { repo: repo.to_string(), seconds: 0 }
    } else {
        SourceError::unreachable(repo, chain)
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The layer holding the content: Helm's chart layer, else the one tar+gzip layer (Flux's
/// `application/vnd.cncf.flux.content.v1.tar+gzip`, Argo CD's, or a plain image layer).
pub(crate) fn content_layer(manifest: &OciImageManifest) -> Result<&OciDescriptor, String> {
    if let Some(chart) = manifest.layers.iter().find(|l| l.media_type == HELM_CHART_LAYER) {
        return Ok(chart);
    }
    let gzip: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type.ends_with("tar+gzip") || l.media_type.ends_with(".tar.gzip"))
        .collect();
    match gzip.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no tar+gzip layer (layers: {})",
            manifest.layers.iter().map(|l| l.media_type.as_str()).collect::<Vec<_>>().join(", ")
        )),
        _ => Err(format!("{} tar+gzip layers; expected one", gzip.len())),
    }
}
