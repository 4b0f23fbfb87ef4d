//! A repository's own `caData`, trusted for that repository's connections only: the server
//! certificate libgit2 presents is verified here against the bundle (chain to one of its
//! certificates, validity period, server-auth usage, and the host name), never added to
//! libgit2's process-wide store where it would vouch for every tenant's servers.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

/// Checks that `leaf_der` (the server's certificate) was issued by a certificate in `ca_pem` and
/// is valid now for `host`. Every certificate in the bundle is a trust anchor, so a bundle may
/// name the intermediate that issued the server certificate (libgit2 hands over the leaf only).
pub(super) fn verify_server_certificate(ca_pem: &str, leaf_der: &[u8], host: &str) -> Result<(), String> {
    let cas = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("caData is not PEM certificates: {e}"))?;
    if cas.is_empty() {
        return Err("caData holds no PEM certificate".into());
    }
    let anchors = cas
        .iter()
        .map(|ca| anchor_from_trusted_cert(ca).map_err(|e| format!("a caData certificate is unusable: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = CertificateDer::from(leaf_der);
    let leaf = EndEntityCert::try_from(&leaf).map_err(|e| format!("the server's certificate does not parse: {e}"))?;
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::now(),
        KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| format!("the server's certificate is not issued by the repository's caData ({e})"))?;
    let name = ServerName::try_from(host).map_err(|e| format!("host {host:?}: {e}"))?;
    leaf.verify_is_valid_for_subject_name(&name)
        .map_err(|e| format!("the server's certificate is not valid for {host} ({e})"))
}

#[cfg(test)]
pub(super) mod test_pki {
    //! Certificate authorities and server certificates for TLS tests.

    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

    /// A CA: its PEM certificate and what signs with it.
    pub struct Authority {
        pub pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    impl Authority {
        pub fn new(name: &str) -> Self {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::default();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let pem = params.self_signed(&key).unwrap().pem();
            Self { pem, issuer: Issuer::new(params, key) }
        }

        /// A server certificate for `localhost` and 127.0.0.1: (certificate DER, key DER).
        pub fn server(&self) -> (Vec<u8>, Vec<u8>) {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (cert.der().to_vec(), key.serialize_der())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_pki::Authority;
    use super::*;

    #[test]
    fn a_tenants_ca_vouches_only_for_servers_it_issued() {
        let (a, b) = (Authority::new("tenant A"), Authority::new("tenant B"));
        let (server_b, _) = b.server();
        assert!(verify_server_certificate(&b.pem, &server_b, "localhost").is_ok());
        assert!(verify_server_certificate(&b.pem, &server_b, "127.0.0.1").is_ok());
        let err = verify_server_certificate(&a.pem, &server_b, "localhost").unwrap_err();
        assert!(err.contains("not issued by the repository's caData"), "{err}");
        // A bundle with both trusts both; the host name still has to match.
        let both = format!("{}{}", a.pem, b.pem);
        assert!(verify_server_certificate(&both, &server_b, "localhost").is_ok());
        let err = verify_server_certificate(&b.pem, &server_b, "git.example.com").unwrap_err();
        assert!(err.contains("not valid for git.example.com"), "{err}");
        assert!(verify_server_certificate("not pem", &server_b, "localhost").is_err());
    }

    /// An HTTPS server on loopback that answers every request 404, until dropped.
    struct Https {
        port: u16,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Https {
        fn start(cert: Vec<u8>, key: Vec<u8>) -> Self {
            use std::io::{Read, Write};
            use std::sync::atomic::Ordering;
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(cert)],
                    rustls_pki_types::PrivatePkcs8KeyDer::from(key).into(),
                )
                .unwrap();
            let config = std::sync::Arc::new(config);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let port = listener.local_addr().unwrap().port();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stopped = stop.clone();
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !stopped.load(Ordering::Relaxed) && std::time::Instant::now() < until {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
                    let connection = rustls::ServerConnection::new(config.clone()).unwrap();
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            });
            Self { port, stop }
        }
    }

    impl Drop for Https {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The bug this guards against: one tenant's caData went into libgit2's process-wide store, so
    /// after tenant A fetched once, every tenant trusted servers that A's CA issued.
    #[tokio::test]
    async fn one_tenants_ca_is_not_trusted_for_another_tenants_fetches() {
        use crate::{Credentials, Endpoint, GitCache, SourceError, SourceRequest};
        let (a, b) = (Authority::new("tenant A"), Authority::new("tenant B"));
        let (cert, key) = a.server();
        let server = Https::start(cert, key);
        let url = format!("https://127.0.0.1:{}/team/app.git", server.port);
        let request = |ca: Option<&str>, secret: &str| SourceRequest {
            repo_url: url.clone(),
            endpoints: vec![Endpoint {
                url: url.clone(),
                credentials: Credentials { ca_data: ca.map(String::from), ..Default::default() },
                credential_source: Some(secret.into()),
            }],
            ..Default::default()
        };
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();

        // Tenant A's CA issued the server's certificate: TLS succeeds and the server's 404 is what fails.
        let err = cache.snapshot(&request(Some(&a.pem), "tenant-a/repo")).await.unwrap_err();
        assert!(matches!(err, SourceError::NotARepository { .. }), "tenant A: {err}");
        // Tenant B, with its own CA or none, must not trust the server because A's CA does.
        let err = cache.snapshot(&request(Some(&b.pem), "tenant-b/repo")).await.unwrap_err();
        assert!(matches!(&err, SourceError::Tls { message, .. } if message.contains("caData")), "tenant B: {err}");
        let err = cache.snapshot(&request(None, "tenant-c/repo")).await.unwrap_err();
        assert!(matches!(err, SourceError::Tls { .. }), "tenant C: {err}");
        // A again, after the others: still trusted.
        let err = cache.snapshot(&request(Some(&a.pem), "tenant-a/repo")).await.unwrap_err();
        assert!(matches!(err, SourceError::NotARepository { .. }), "tenant A again: {err}");
    }
}
