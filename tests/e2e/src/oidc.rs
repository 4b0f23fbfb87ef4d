//! The OpenID Connect issuer the test control plane trusts: `cargo xtask cluster up` picks its
//! loopback port, signs its certificate and points the API server's `--authentication-config` at
//! it (`pki/oidc-issuer.json` beside the kubeconfig says where); a test serves it with the provider
//! built from tests/oidc, with its own users and the UI's redirect URL, and sees ID tokens of its
//! users accepted by the API server as `oidc:<id>`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::cluster::{kubeconfig, workspace_root};

/// What the cluster's authentication configuration expects of the issuer.
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct IssuerInfo {
    /// The issuer URL (`https://127.0.0.1:PORT`).
    pub issuer: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The serving certificate, signed by the cluster's CA.
    pub tls_cert: PathBuf,
    /// Its key.
    pub tls_key: PathBuf,
    /// The cluster's CA (which the UI needs to trust the issuer).
    pub ca: PathBuf,
    /// Base64 SHA-256 of the serving key's SubjectPublicKeyInfo (Chromium's
    /// `--ignore-certificate-errors-spki-list`).
    pub spki_sha256: String,
    /// The client id the API server takes as the ID tokens' audience.
    pub client_id: String,
    /// The prefix of user names (`oidc:`).
    pub user_prefix: String,
}

impl IssuerInfo {
    /// Reads `pki/oidc-issuer.json` of the test cluster.
    pub fn of_cluster() -> anyhow::Result<Self> {
        let dir = kubeconfig().parent().map(PathBuf::from).unwrap_or_default();
        let path = dir.join("pki").join("oidc-issuer.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!("reading {} (a cluster started by an older `cargo xtask cluster up`?): {e}", path.display())
        })?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// A user of the provider.
pub struct OidcUser {
    /// The `sub` claim (the API server names the user `<prefix><id>`).
    pub id: String,
    /// What the login form takes.
    pub username: String,
    /// Its password.
    pub password: String,
}

/// The provider, serving the cluster's issuer; killed on drop. Its log is in
/// `target/e2e-logs/<log_name>.log`.
pub struct OidcProvider {
    child: Child,
    /// What it serves.
    pub info: IssuerInfo,
    /// The client secret of [`IssuerInfo::client_id`].
    pub client_secret: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl OidcProvider {
    /// Starts the provider with `users`, the one client allowed to redirect to `redirect_uri`, and
    /// waits until its discovery document answers.
    pub async fn start(log_name: &str, users: &[OidcUser], redirect_uri: &str) -> anyhow::Result<Self> {
        let info = IssuerInfo::of_cluster()?;
        let dir = tempfile::tempdir()?;
        let users_json: serde_json::Map<String, serde_json::Value> = users
            .iter()
            .map(|u| {
                let user = json!({"ID": u.id, "Username": u.username, "Password": u.password,
                    "Email": format!("{}@example.com", u.username), "EmailVerified": true,
                    "FirstName": u.username, "LastName": "Test", "PreferredLanguage": "en"});
                (u.id.clone(), user)
            })
            .collect();
        let users_file = dir.path().join("users.json");
        std::fs::write(&users_file, serde_json::to_vec(&users_json)?)?;
        let client_secret = format!("secret-{:016x}", rand::random::<u64>());
        let logs = workspace_root().join("target/e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{log_name}.log"));
        let file = std::fs::File::create(&log)?;
        let bin = std::env::var_os("LOCKSTEP_OIDC_PROVIDER")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/oidc/bin/oidc-provider"));
        let child = Command::new(&bin)
            .arg(format!("-issuer={}", info.issuer))
            .arg(format!("-listen={}", info.listen))
            .arg(format!("-tls-cert={}", info.tls_cert.display()))
            .arg(format!("-tls-key={}", info.tls_key.display()))
            .arg(format!("-users={}", users_file.display()))
            .arg(format!("-client-id={}", info.client_id))
            .arg(format!("-client-secret={client_secret}"))
            .arg(format!("-redirect-uris={redirect_uri}"))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {} (build it with `cargo xtask tools`): {e}", bin.display()))?;
        let provider = Self { child, info, client_secret, log, _dir: dir };
        let http = provider.http_client()?;
        let discovery = format!("{}/.well-known/openid-configuration", provider.info.issuer);
        crate::wait::wait_for("the OIDC provider answers discovery", Duration::from_secs(30), || {
            let (http, url) = (http.clone(), discovery.clone());
            async move { Ok(http.get(url).send().await.ok().filter(|r| r.status().is_success()).map(drop)) }
        })
        .await?;
        Ok(provider)
    }

    /// An HTTPS client trusting the cluster's CA (the issuer's), following no redirects.
    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(&self.info.ca)?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile_certs(&pem)? {
            roots.add(cert)?;
        }
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?)
    }

    /// The provider's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it (the issuer is then down).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The certificates of a PEM text.
fn rustls_pemfile_certs(pem: &[u8]) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject as _;
    Ok(rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?)
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- OIDC provider log (last lines) ---");
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}
