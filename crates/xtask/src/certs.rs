//! The cluster's PKI, generated with rcgen: a CA, the API server's serving
//! certificate, an admin client certificate and the service-account key pair.
//! All keys are ECDSA P-256 (PKCS#8 PEM), which every component accepts.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _, SanType,
};
use sha2::{Digest as _, Sha256};

/// DNS names the API server's certificate is valid for.
const APISERVER_DNS_NAMES: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// IP addresses the API server's certificate is valid for: loopback and the
/// first address of `--service-cluster-ip-range=10.0.0.0/24`.
const APISERVER_IPS: &[IpAddr] =
    &[IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))];

/// Paths of the PEM files written by [`generate`], plus the PEM texts the
/// kubeconfig embeds.
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate (`--client-ca-file`, `--root-ca-file`).
    pub ca_cert: PathBuf,
    /// API server serving certificate (`--tls-cert-file`).
    pub apiserver_cert: PathBuf,
    /// API server serving key (`--tls-private-key-file`).
    pub apiserver_key: PathBuf,
    /// Service-account signing key (`--service-account-signing-key-file`,
    /// `--service-account-private-key-file`).
    pub sa_key: PathBuf,
    /// Service-account public key (`--service-account-key-file`).
    pub sa_pub: PathBuf,
    /// PEM of the CA certificate.
    pub ca_cert_pem: String,
    /// PEM of the admin client certificate (CN `admin`, O `system:masters`).
    pub admin_cert_pem: String,
    /// PEM of the admin client key.
    pub admin_key_pem: String,
    /// Serving certificate of the tests' OIDC issuer on loopback (signed by the CA, which the API
    /// server's JWT authenticator trusts for it).
    pub oidc_cert: PathBuf,
    /// Its key.
    pub oidc_key: PathBuf,
    /// Base64 of the SHA-256 of its public key (SubjectPublicKeyInfo), as Chromium's
    /// `--ignore-certificate-errors-spki-list` takes it: the browser test trusts this key alone.
    pub oidc_spki_sha256: String,
}

/// Generates a fresh PKI into `dir` (created if needed).
pub fn generate(dir: &Path) -> Result<Pki> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;

    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params.distinguished_name.push(DnType::CommonName, "lockstep-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).context("self-signing the CA certificate")?;
    let ca_cert_pem = ca_cert.pem();
    let ca = Issuer::new(ca_params, ca_key);

    let mut server_params = leaf_params("kube-apiserver", None);
    server_params.subject_alt_names = APISERVER_DNS_NAMES
        .iter()
        .map(|name| Ok(SanType::DnsName((*name).try_into()?)))
        .collect::<Result<Vec<_>, rcgen::Error>>()
        .context("building the API server's DNS names")?;
    server_params.subject_alt_names.extend(APISERVER_IPS.iter().copied().map(SanType::IpAddress));
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().context("generating the API server key")?;
    let server_cert = server_params.signed_by(&server_key, &ca).context("signing the API server certificate")?;

    let mut admin_params = leaf_params("admin", Some("system:masters"));
    admin_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate().context("generating the admin key")?;
    let admin_cert = admin_params.signed_by(&admin_key, &ca).context("signing the admin client certificate")?;

    let sa_key = KeyPair::generate().context("generating the service-account key")?;

    let mut oidc_params = leaf_params("lockstep-test-oidc", None);
    oidc_params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().context("the OIDC issuer's DNS name")?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ];
    oidc_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let oidc_key = KeyPair::generate().context("generating the OIDC issuer key")?;
    let oidc_cert = oidc_params.signed_by(&oidc_key, &ca).context("signing the OIDC issuer certificate")?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        apiserver_cert: dir.join("apiserver.crt"),
        apiserver_key: dir.join("apiserver.key"),
        sa_key: dir.join("sa.key"),
        sa_pub: dir.join("sa.pub"),
        ca_cert_pem,
        admin_cert_pem: admin_cert.pem(),
        admin_key_pem: admin_key.serialize_pem(),
        oidc_cert: dir.join("oidc.crt"),
        oidc_key: dir.join("oidc.key"),
        oidc_spki_sha256: base64(&Sha256::digest(oidc_key.subject_public_key_info())),
    };
    write(&pki.ca_cert, &pki.ca_cert_pem)?;
    write(&dir.join("ca.key"), &ca.key().serialize_pem())?;
    write(&pki.apiserver_cert, &server_cert.pem())?;
    write(&pki.apiserver_key, &server_key.serialize_pem())?;
    write(&dir.join("admin.crt"), &pki.admin_cert_pem)?;
    write(&dir.join("admin.key"), &pki.admin_key_pem)?;
    write(&pki.sa_key, &sa_key.serialize_pem())?;
    write(&pki.sa_pub, &sa_key.public_key_pem())?;
    write(&pki.oidc_cert, &oidc_cert.pem())?;
    write(&pki.oidc_key, &oidc_key.serialize_pem())?;
    Ok(pki)
}

/// Parameters of a leaf certificate with the given subject.
fn leaf_params(common_name: &str, organization: Option<&str>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        params.distinguished_name.push(DnType::OrganizationName, org);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.use_authority_key_identifier_extension = true;
    params
}

/// Writes a PEM file, readable by the owner only (it may hold a private key).
fn write(path: &Path, pem: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(pem.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// Standard base64 (RFC 4648, with padding), as kubeconfig `*-data` fields want.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "input {input:?}");
        }
    }

    #[test]
    fn generates_all_files() {
        let dir = std::env::temp_dir().join(format!("xtask-certs-test-{}", std::process::id()));
        let pki = generate(&dir).unwrap();
        for path in [
            &pki.ca_cert,
            &pki.apiserver_cert,
            &pki.apiserver_key,
            &pki.sa_key,
            &pki.sa_pub,
            &pki.oidc_cert,
            &pki.oidc_key,
        ] {
            let text = fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN "), "{}", path.display());
        }
        assert!(pki.admin_cert_pem.contains("BEGIN CERTIFICATE"));
        assert!(pki.admin_key_pem.contains("BEGIN PRIVATE KEY"));
        assert!(fs::read_to_string(&pki.sa_pub).unwrap().contains("BEGIN PUBLIC KEY"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
