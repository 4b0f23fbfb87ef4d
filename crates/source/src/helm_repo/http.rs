//! HTTP(S) to Helm repositories: one reqwest client per endpoint (its credentials' CA, client
//! certificate and proxy, or the controller's default proxy), bodies read under a byte cap, and
//! failures sorted into [`SourceError`]s with the same meaning as for git.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::credentials::{Credentials, strip_userinfo};
use crate::error::SourceError;
use crate::transport::{host_and_port, proxy_for};

/// The system's CA certificates, read once.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Network settings shared by every endpoint.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    pub timeout: Duration,
    pub default_proxy: Option<String>,
    pub default_no_proxy: Option<String>,
}

/// A client for `url` with these credentials: the system's CAs plus `caData`, the client
/// certificate if both halves are set, the proxy that applies, no redirects to other schemes.
pub(crate) fn client(
    url: &str,
    credentials: &Credentials,
    settings: &HttpSettings,
) -> Result<reqwest::Client, SourceError> {
    let repo = strip_userinfo(url);
    let config = |message: String| SourceError::Tls { repo: repo.clone(), message };
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(ca) = credentials.ca_data.as_deref() {
        let certs = CertificateDer::pem_slice_iter(ca.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| config(format!("caData is not PEM certificates: {e}")))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(config("caData holds no usable certificate".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config(e.to_string()))?
        .with_root_certificates(roots);
    let tls = match (credentials.tls_client_cert_data.as_deref(), credentials.tls_client_cert_key.as_deref()) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| config(format!("tlsClientCertData: {e}")))?;
            let key =
                PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| config(format!("tlsClientCertKey: {e}")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| config(format!("client certificate: {e}")))?
        }
        _ => builder.with_no_client_auth(),
    };
    let mut http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .connect_timeout(settings.timeout.min(Duration::from_secs(30)))
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::limited(5));
    let proxy = proxy_for(
        url,
        credentials.proxy.as_deref(),
        credentials.no_proxy.as_deref(),
        settings.default_proxy.as_deref(),
        settings.default_no_proxy.as_deref(),
    );
    if let Some(proxy) = proxy {
        let proxy = reqwest::Proxy::all(&proxy).map_err(|e| SourceError::Configuration {
            message: format!("proxy {}: {}", strip_userinfo(&proxy), e.without_url()),
        })?;
        http = http.proxy(proxy);
    }
    http.build().map_err(|e| config(e.without_url().to_string()))
}

/// GETs `url` and reads at most `cap` bytes of its body. Credentials are sent only to the host
/// (and port) of `credentials_for`, as Helm does without `--pass-credentials`.
pub(crate) async fn get_capped(
    client: &reqwest::Client,
    url: &str,
    credentials: &Credentials,
    credentials_for: &str,
    cap: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    let repo = strip_userinfo(url);
    let mut request = client.get(url);
    if host_and_port(url) == host_and_port(credentials_for) {
        if let Some(token) = credentials.bearer_token.as_deref() {
            request = request.bearer_auth(token);
        } else if credentials.username.is_some() || credentials.password.is_some() {
            request = request.basic_auth(
                credentials.username.clone().unwrap_or_default(),
                Some(credentials.password.clone().unwrap_or_default()),
            );
        }
    }
    let mut response = request.send().await.map_err(|e| transport_error(&repo, &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(status_error(&repo, status, what));
    }
    let too_large = || SourceError::TooLarge { url: repo.clone(), what: what.to_string(), limit: cap };
    if response.content_length().is_some_and(|length| length > cap) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&repo, &e))? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a transport error's text is a TLS failure (a certificate refused on either side, or a
/// fatal alert during the handshake), for errors whose rustls cause is not reachable by type.
fn looks_like_tls(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["certificate", "fatal alert", "handshake", "tls"].iter().any(|word| lower.contains(word))
}

/// An HTTP status as a source error: 401/403 refuse this client, 407 is the proxy's, 404 names a
/// missing file, everything else (5xx, 429) is the server being unavailable.
fn status_error(repo: &str, status: reqwest::StatusCode, what: &str) -> SourceError {
    let message = format!("{what}: HTTP {status}");
    match status.as_u16() {
        401 | 403 => SourceError::AuthenticationFailed { repo: repo.into(), message },
        407 => SourceError::ProxyAuthenticationFailed { repo: repo.into(), message },
        404 | 410 => SourceError::NotARepository { repo: repo.into(), message },
        _ => SourceError::Unreachable { repo: repo.into(), message },
    }
}

/// A transport failure: a certificate problem is `Tls`, a proxy refusing its credentials is
/// `ProxyAuthenticationFailed`, anything else (refused, reset, DNS, timeout) an outage.
fn transport_error(repo: &str, err: &reqwest::Error) -> SourceError {
    let mut chain = Vec::new();
    let mut tls = false;
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(current) = source {
        tls |= current.downcast_ref::<rustls::Error>().is_some()
            || current
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        chain.push(current.to_string());
        source = current.source();
    }
    chain.dedup();
    let message = chain.join(": ").replace(repo, "");
    if tls || looks_like_tls(&message) {
        SourceError::Tls { repo: repo.into(), message }
    } else if message.contains("407") || message.contains("Proxy Authentication Required") {
        SourceError::ProxyAuthenticationFailed { repo: repo.into(), message }
    } else {
        SourceError::Unreachable { repo: repo.into(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_tell_refusals_from_outages() {
        let reason = |code: u16| status_error("http://h/r", reqwest::StatusCode::from_u16(code).unwrap(), "index.yaml");
        assert!(matches!(reason(401), SourceError::AuthenticationFailed { .. }));
        assert!(matches!(reason(403), SourceError::AuthenticationFailed { .. }));
        assert!(matches!(reason(407), SourceError::ProxyAuthenticationFailed { .. }));
        assert!(matches!(reason(404), SourceError::NotARepository { .. }));
        for outage in [500, 502, 503, 429] {
            assert!(reason(outage).is_outage(), "{outage}");
        }
        assert!(!reason(401).is_outage());
    }

    #[test]
    fn tls_failures_are_told_from_outages_by_their_text() {
        assert!(looks_like_tls("connection error: received fatal alert: CertificateRequired"));
        assert!(looks_like_tls("invalid peer certificate: UnknownIssuer"));
        assert!(!looks_like_tls("tcp connect error: Connection refused (os error 111)"));
    }
}
