//! What one request asks for: the repository, revision and endpoints, and the identities derived
//! from them that decide which listings and last good revisions a request may share.

use std::time::Duration;

use crate::credentials::Credentials;
use crate::revision::RevisionSpec;
use crate::verification::Verification;

/// Which repository and revision an Application reads, and how to reach it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRequest {
    /// The repository URL as the Application spells it (the canonical URL).
    pub repo_url: String,
    /// Branch, tag, commit or semver range; `None`, empty or `HEAD` for the default branch.
    pub target_revision: Option<String>,
    /// URLs to try in order (mirrors, then the canonical URL) with their credentials; empty means
    /// the canonical URL without credentials.
    pub endpoints: Vec<Endpoint>,
    /// `known_hosts` lines shared by every repository (the controller's ConfigMap).
    pub known_hosts: String,
    /// Reuse a ref listing that started at most this long before the request; `None` for the
    /// cache's listing TTL. `Some(ZERO)` asks for a listing that starts after the request.
    pub max_listing_age: Option<Duration>,
    /// Signature verification the revision must pass before it is served or recorded.
    pub verification: Option<Verification>,
}

/// One URL a repository can be fetched from, with the credentials that apply to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL to fetch from.
    pub url: String,
    /// Credentials for this URL (empty for anonymous access).
    pub credentials: Credentials,
    /// Which Secret the credentials came from (`namespace/name`), if any. Requests share ref
    /// listings and last good revisions only with requests using the same URLs and Secrets, so an
    /// Application never reads through another namespace's credentials.
    pub credential_source: Option<String>,
}

impl SourceRequest {
    /// The endpoints to try: the given ones, else the canonical URL anonymously.
    pub(crate) fn effective_endpoints(&self) -> Vec<Endpoint> {
        if self.endpoints.is_empty() {
            vec![Endpoint { url: self.repo_url.clone(), ..Default::default() }]
        } else {
            self.endpoints.clone()
        }
    }

    /// Who is asking, as far as access goes: the URLs tried and the Secrets used (never their values).
    pub(crate) fn access_identity(&self) -> u64 {
        let text: Vec<String> = self
            .effective_endpoints()
            .iter()
            .map(|e| format!("{} {}", e.url, e.credential_source.as_deref().unwrap_or("-")))
            .collect();
        lockstep_api::stable_hash::fnv1a64(text.join("\n").as_bytes())
    }

    /// Everything that can change the outcome of a listing attempt, credential values included.
    /// In memory only: never persisted or logged.
    pub(super) fn attempt_fingerprint(&self) -> u64 {
        let mut text = format!("{}\n", self.known_hosts);
        for e in self.effective_endpoints() {
            let c = &e.credentials;
            let fields = [
                &c.username,
                &c.password,
                &c.ssh_private_key,
                &c.ca_data,
                &c.proxy,
                &c.no_proxy,
                &c.known_hosts,
                &c.tls_client_cert_data,
                &c.tls_client_cert_key,
                &c.bearer_token,
            ];
            text.push_str(&e.url);
            for field in fields {
                text.push('\0');
                text.push_str(field.as_deref().unwrap_or_default());
            }
            text.push('\n');
        }
        lockstep_api::stable_hash::fnv1a64(text.as_bytes())
    }

    /// Key of this request's last good revision in the state file.
    pub(super) fn last_good_key(&self, spec: &RevisionSpec) -> String {
        match &self.verification {
            None => format!("{}#{:016x}", spec.key(), self.access_identity()),
            Some(v) => format!("{}#{:016x}#verified-{:016x}", spec.key(), self.access_identity(), v.identity()),
        }
    }
}
