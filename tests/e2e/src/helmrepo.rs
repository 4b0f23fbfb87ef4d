//! A real Helm HTTP repository on loopback: lighttpd serving a static `index.yaml` and chart
//! archives under `/charts/` with basic auth (and the same files under `/mirror/` with the same
//! user), over HTTP and over HTTPS with a test CA that also requires a client certificate; charts
//! packaged and indexed with the pinned `helm` (`helm package`, `helm repo index`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::controller::tool_path;
use crate::gitserver::{TestCa, free_port};

/// The user of the repository's basic auth.
pub const HELM_USER: &str = "charts";
/// See [`HELM_USER`].
pub const HELM_PASSWORD: &str = "s3cret-chart-pass";

/// lighttpd serving one Helm repository; killed on drop.
pub struct HelmRepoServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The HTTP port.
    pub port: u16,
    /// The HTTPS port: the server certificate is signed by [`HelmRepoServer::ca`], and a client
    /// certificate signed by it is required.
    pub tls_port: u16,
    /// The test CA.
    pub ca: TestCa,
    /// A client certificate (PEM) the HTTPS port accepts.
    pub client_cert: String,
    /// Its key (PEM).
    pub client_key: String,
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pinned helm the controller renders with.
pub fn helm() -> PathBuf {
    tool_path("LOCKSTEP_HELM", "helm")
}

/// Writes a chart named `name` at `version` into `dir/<name>`: one ConfigMap
/// `<release>-<name>` whose `version` key is the chart version and `value` key is `value`.
pub fn write_chart(dir: &Path, name: &str, version: &str, value: &str) -> anyhow::Result<PathBuf> {
    let chart = dir.join(name);
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(chart.join("Chart.yaml"), format!("apiVersion: v2\nname: {name}\nversion: {version}\n"))?;
    std::fs::write(chart.join("values.yaml"), format!("value: {value:?}\n"))?;
    std::fs::write(
        chart.join("templates/cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\ndata:\n  \
             version: {{{{ .Chart.Version | quote }}}}\n  value: {{{{ .Values.value | quote }}}}\n"
        ),
    )?;
    Ok(chart)
}

impl HelmRepoServer {
    /// Starts lighttpd on a free loopback port with an empty repository.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("www/charts"))?;
        let ca = TestCa::generate(dir.path())?;
        let (client_cert, client_key) = client_certificate(dir.path())?;
        let (port, tls_port) = (free_port(), free_port());
        let server = Self { dir, child: None, port, tls_port, ca, client_cert, client_key };
        server.write_config()?;
        let mut server = server;
        server.reindex()?;
        server.resume()?;
        Ok(server)
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let d = self.dir.path().display();
        std::fs::write(self.dir.path().join("users"), format!("{HELM_USER}:{HELM_PASSWORD}\n"))?;
        let config = format!(
            r#"server.modules = ("mod_access", "mod_alias", "mod_auth", "mod_authn_file", "mod_accesslog", "mod_openssl")
server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/error.log"
server.pid-file = "{d}/lighttpd.pid"
accesslog.filename = "{d}/access.log"
mimetype.assign = (".yaml" => "application/yaml", ".tgz" => "application/gzip")
alias.url = ("/mirror/" => "{d}/www/charts/")
auth.backend = "plain"
auth.backend.plain.userfile = "{d}/users"
auth.require = ("/charts/" => ("method" => "basic", "realm" => "helm", "require" => "valid-user"),
                "/mirror/" => ("method" => "basic", "realm" => "helm", "require" => "valid-user"))
$SERVER["socket"] == "127.0.0.1:{tls_port}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{cert}"
    ssl.privkey = "{key}"
    ssl.verifyclient.ca-file = "{d}/ca.pem"
    ssl.verifyclient.activate = "enable"
    ssl.verifyclient.enforce = "enable"
}}
"#,
            port = self.port,
            tls_port = self.tls_port,
            cert = self.ca.cert.display(),
            key = self.ca.key.display(),
        );
        std::fs::write(self.dir.path().join("lighttpd.conf"), config)?;
        Ok(())
    }

    /// Starts (again) after [`HelmRepoServer::stop`].
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let log = self.dir.path().join("stderr.log");
        let mut child = Command::new("/usr/sbin/lighttpd")
            .args(["-D", "-f"])
            .arg(self.dir.path().join("lighttpd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting lighttpd (apt-get install lighttpd)")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", self.tls_port)).is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                bail!("lighttpd exited with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!("lighttpd did not listen on {}", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Stops the server: connections are refused until [`HelmRepoServer::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Packages a chart (see [`write_chart`]) with `helm package` into the repository and
    /// regenerates `index.yaml` with `helm repo index`.
    pub fn publish(&self, name: &str, version: &str, value: &str) -> anyhow::Result<()> {
        let work = tempfile::tempdir()?;
        let chart = write_chart(work.path(), name, version, value)?;
        self.publish_dir(&chart)
    }

    /// Packages the chart at `chart` into the repository and regenerates the index.
    pub fn publish_dir(&self, chart: &Path) -> anyhow::Result<()> {
        run(Command::new(helm()).arg("package").arg(chart).arg("--destination").arg(self.charts_dir()))?;
        self.reindex()
    }

    /// Runs `helm repo index` over the repository directory.
    pub fn reindex(&self) -> anyhow::Result<()> {
        let home = self.dir.path().join("helm-home");
        run(Command::new(helm())
            .args(["repo", "index"])
            .arg(self.charts_dir())
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data")))?;
        Ok(())
    }

    /// Replaces `index.yaml` with `text` (for malformed or oversized indexes).
    pub fn write_index(&self, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.charts_dir().join("index.yaml"), text)?;
        Ok(())
    }

    /// The directory served as the repository.
    pub fn charts_dir(&self) -> PathBuf {
        self.dir.path().join("www/charts")
    }

    /// The repository URL (basic auth).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/charts", self.port)
    }

    /// The repository over HTTPS (basic auth and a client certificate).
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}/charts", self.tls_port)
    }

    /// The same repository under another URL with the same user, as a mirror.
    pub fn mirror_url(&self) -> String {
        format!("http://127.0.0.1:{}/mirror", self.port)
    }

    /// How many `GET …/index.yaml` the server answered under `prefix` (`/charts/` or `/mirror/`).
    pub fn index_fetches(&self, prefix: &str) -> usize {
        self.requests(&format!("{prefix}index.yaml"))
    }

    /// How many successful (200) GETs of a path containing `needle` the server answered.
    pub fn requests(&self, needle: &str) -> usize {
        self.access_log().lines().filter(|l| l.contains("GET ") && l.contains(needle) && l.contains("\" 200 ")).count()
    }

    /// The access log, for failure messages.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

/// A client certificate signed by the test CA in `dir` (`ca.pem`, `ca.key`), as PEM certificate and key.
fn client_certificate(dir: &Path) -> anyhow::Result<(String, String)> {
    let p = |name: &str| dir.join(name).display().to_string();
    run(Command::new("openssl").args(["req", "-newkey", "rsa:2048", "-nodes"]).args([
        "-keyout",
        &p("client.key"),
        "-out",
        &p("client.csr"),
        "-subj",
        "/CN=lockstep-client",
    ]))?;
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n")?;
    run(Command::new("openssl").args(["x509", "-req", "-days", "2"]).args([
        "-in",
        &p("client.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-extfile",
        &p("client.ext"),
        "-out",
        &p("client.pem"),
    ]))?;
    Ok((std::fs::read_to_string(dir.join("client.pem"))?, std::fs::read_to_string(dir.join("client.key"))?))
}

impl Drop for HelmRepoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
