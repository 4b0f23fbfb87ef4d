//! Is a request genuine: GitLab's shared token, or an HMAC-SHA256 of the body, compared in
//! constant time.

use http::HeaderMap;
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::detect::Provider;

/// Why a request failed verification.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The header carrying the token or signature is absent.
    #[error("{provider} webhook without the {header} header")]
    Missing {
        /// Provider label.
        provider: &'static str,
        /// The header that should carry the proof.
        header: &'static str,
    },
    /// The header is present but is not `sha256=<hex>` (or hex, for Gitea).
    #[error("{provider} webhook with a malformed {header} header")]
    Malformed {
        /// Provider label.
        provider: &'static str,
        /// The malformed header.
        header: &'static str,
    },
    /// The token or signature does not match the configured secret.
    #[error("{provider} webhook with a wrong {header}")]
    Mismatch {
        /// Provider label.
        provider: &'static str,
        /// The header that did not match.
        header: &'static str,
    },
}

/// Checks the request against the provider's secret: GitLab's `X-Gitlab-Token` must equal it;
/// GitHub's `X-Hub-Signature-256`, Bitbucket's `X-Hub-Signature` (`sha256=<hex>`) and Gitea's
/// `X-Gitea-Signature` (`<hex>`) must be the HMAC-SHA256 of the body keyed with it.
pub fn verify(provider: Provider, headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    let label = provider.as_str();
    let (header, prefixed) = match provider {
        Provider::Gitlab => ("x-gitlab-token", false),
        Provider::Github => ("x-hub-signature-256", true),
        Provider::Gitea => ("x-gitea-signature", false),
        Provider::BitbucketCloud | Provider::BitbucketServer => ("x-hub-signature", true),
    };
    let value = headers.get(header).map(|v| v.as_bytes()).ok_or(VerifyError::Missing { provider: label, header })?;
    if provider == Provider::Gitlab {
        return if bool::from(value.ct_eq(secret)) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch { provider: label, header })
        };
    }
    let malformed = VerifyError::Malformed { provider: label, header };
    let text = std::str::from_utf8(value).map_err(|_| malformed.clone())?.trim();
    let hex_part = if prefixed { text.strip_prefix("sha256=").ok_or(malformed.clone())? } else { text };
    let signature = hex::decode(hex_part).map_err(|_| malformed)?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    // ring's verify compares in constant time.
    ring::hmac::verify(&key, body, &signature).map_err(|_| VerifyError::Mismatch { provider: label, header })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    }

    fn one(name: &'static str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, value.parse().unwrap());
        map
    }

    #[test]
    fn gitlab_token_must_match() {
        assert_eq!(verify(Provider::Gitlab, &one("X-Gitlab-Token", "s3cret"), b"{}", b"s3cret"), Ok(()));
        assert!(matches!(
            verify(Provider::Gitlab, &one("X-Gitlab-Token", "nope"), b"{}", b"s3cret"),
            Err(VerifyError::Mismatch { .. })
        ));
        assert!(matches!(verify(Provider::Gitlab, &HeaderMap::new(), b"{}", b"s"), Err(VerifyError::Missing { .. })));
    }

    #[test]
    fn hmac_signatures_are_checked_over_the_body() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = sign(b"k", body);
        let github = one("X-Hub-Signature-256", &format!("sha256={good}"));
        assert_eq!(verify(Provider::Github, &github, body, b"k"), Ok(()));
        assert!(matches!(verify(Provider::Github, &github, b"tampered", b"k"), Err(VerifyError::Mismatch { .. })));
        assert!(matches!(verify(Provider::Github, &github, body, b"other"), Err(VerifyError::Mismatch { .. })));
        let unprefixed = one("X-Hub-Signature-256", &good);
        assert!(matches!(verify(Provider::Github, &unprefixed, body, b"k"), Err(VerifyError::Malformed { .. })));
        assert_eq!(verify(Provider::Gitea, &one("X-Gitea-Signature", &good), body, b"k"), Ok(()));
        let server = one("X-Hub-Signature", &format!("sha256={good}"));
        assert_eq!(verify(Provider::BitbucketServer, &server, body, b"k"), Ok(()));
        assert_eq!(verify(Provider::BitbucketCloud, &server, body, b"k"), Ok(()));
        let not_hex = one("X-Gitea-Signature", "zz");
        assert!(matches!(verify(Provider::Gitea, &not_hex, body, b"k"), Err(VerifyError::Malformed { .. })));
    }
}
