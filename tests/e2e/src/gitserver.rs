//! Real git servers on loopback for source tests: `git http-backend` behind lighttpd (plain HTTP
//! with a basic-auth area, and HTTPS with a test CA), `sshd` with key auth, and squid as a proxy
//! requiring basic auth. Each is a child process killed on drop; installed by `.ci/run`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::git::GitRepo;

/// The user and password of the HTTP server's `/private/` area.
pub const HTTP_USER: &str = "gitops";
/// See [`HTTP_USER`].
pub const HTTP_PASSWORD: &str = "s3cret-http-pass";

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until something listens on `port`.
fn wait_listening(port: u16, what: &str, child: &mut Child, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!("{what} exited with {status}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            bail!("{what} did not listen on {port}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A test certificate authority and a server certificate for 127.0.0.1/localhost, made with the
/// openssl CLI.
pub struct TestCa {
    /// The CA certificate (PEM), what a credential's `caData` holds.
    pub ca_pem: String,
    /// Server certificate file.
    pub cert: PathBuf,
    /// Server key file.
    pub key: PathBuf,
}

impl TestCa {
    /// Generates a CA and a server certificate under `dir`.
    pub fn generate(dir: &Path) -> anyhow::Result<Self> {
        let p = |name: &str| dir.join(name).display().to_string();
        run(Command::new("openssl").args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]).args([
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
            "-subj",
            "/CN=lockstep test CA",
        ]))?;
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")?;
        run(Command::new("openssl").args(["req", "-newkey", "rsa:2048", "-nodes"]).args([
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
            "-subj",
            "/CN=127.0.0.1",
        ]))?;
        run(Command::new("openssl").args(["x509", "-req", "-days", "2"]).args([
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-extfile",
            &p("san.ext"),
            "-out",
            &p("server.pem"),
        ]))?;
        Ok(Self {
            ca_pem: std::fs::read_to_string(dir.join("ca.pem"))?,
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        })
    }
}

/// lighttpd serving bare repositories with `git http-backend`: `/git/<name>.git` anonymously,
/// `/private/<name>.git` with basic auth, both over HTTP and (on `tls_port`) HTTPS.
pub struct HttpGitServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Plain HTTP port.
    pub port: u16,
    /// HTTPS port (certificate signed by [`HttpGitServer::ca`]).
    pub tls_port: u16,
    /// The CA that signed the HTTPS certificate.
    pub ca: TestCa,
}

impl HttpGitServer {
    /// Starts lighttpd on two free loopback ports.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("repos"))?;
        std::fs::create_dir_all(dir.path().join("www"))?;
        let ca = TestCa::generate(dir.path())?;
        let mut server = Self { dir, child: None, port: free_port(), tls_port: free_port(), ca };
        server.write_config()?;
        server.resume()?;
        Ok(server)
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let d = self.dir.path().display();
        std::fs::write(self.dir.path().join("users"), format!("{HTTP_USER}:{HTTP_PASSWORD}\n"))?;
        let config = format!(
            r#"server.modules = ("mod_access", "mod_alias", "mod_auth", "mod_authn_file", "mod_setenv", "mod_cgi", "mod_accesslog", "mod_openssl")
server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/error.log"
server.pid-file = "{d}/lighttpd.pid"
accesslog.filename = "{d}/access.log"
alias.url = ("/git/" => "/usr/lib/git-core/git-http-backend/", "/private/" => "/usr/lib/git-core/git-http-backend/")
cgi.assign = ("" => "")
setenv.add-environment = ("GIT_PROJECT_ROOT" => "{d}/repos", "GIT_HTTP_EXPORT_ALL" => "1")
auth.backend = "plain"
auth.backend.plain.userfile = "{d}/users"
auth.require = ("/private/" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
$SERVER["socket"] == "127.0.0.1:{tls_port}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{cert}"
    ssl.privkey = "{key}"
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

    /// Starts (again) after [`HttpGitServer::stop`].
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let log = self.dir.path().join("stderr.log");
        let mut child = Command::new("/usr/sbin/lighttpd")
            .args(["-D", "-f"])
            .arg(self.dir.path().join("lighttpd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting lighttpd (apt-get install lighttpd lighttpd-mod-openssl)")?;
        wait_listening(self.port, "lighttpd", &mut child, &log)?;
        wait_listening(self.tls_port, "lighttpd (TLS)", &mut child, &log)?;
        self.child = Some(child);
        Ok(())
    }

    /// Stops the server: connections are refused until [`HttpGitServer::resume`].
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Publishes `repo` (all branches and tags) as `<name>.git`, or updates it.
    pub fn publish(&self, name: &str, repo: &GitRepo) -> anyhow::Result<()> {
        let bare = self.dir.path().join("repos").join(format!("{name}.git"));
        if !bare.exists() {
            run(Command::new("git").args(["init", "-q", "--bare"]).arg(&bare))?;
        }
        let target = bare.display().to_string();
        repo.git(&["push", "-q", "--force", &target, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"]);
        Ok(())
    }

    /// Runs git in the bare repository behind `<name>.git` (to delete a ref, or collect garbage
    /// after a force-push); returns its stdout.
    pub fn git(&self, name: &str, args: &[&str]) -> anyhow::Result<String> {
        let bare = self.dir.path().join("repos").join(format!("{name}.git"));
        run(Command::new("git").arg("--git-dir").arg(&bare).args(args))
    }

    /// Anonymous HTTP URL of a published repository.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/git/{name}.git", self.port)
    }

    /// HTTP URL behind basic auth.
    pub fn private_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/private/{name}.git", self.port)
    }

    /// HTTPS URL behind basic auth.
    pub fn https_url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/private/{name}.git", self.tls_port)
    }

    /// How many ref listings (`GET …/<name>.git/info/refs`) the server answered so far.
    pub fn ref_listings(&self, name: &str) -> usize {
        let needle = format!("/{name}.git/info/refs");
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("GET ") && l.contains(&needle))
            .count()
    }

    /// The access log, for failure messages.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// sshd on a free loopback port accepting one client key for the current user; repositories are
/// reached as `ssh://<user>@127.0.0.1:<port>/<path>.git`.
pub struct SshGitServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The port sshd listens on.
    pub port: u16,
    /// The client's private key (what `sshPrivateKey` holds).
    pub client_key: String,
    /// A `known_hosts` line for this server.
    pub known_hosts: String,
    user: String,
}

impl SshGitServer {
    /// Generates host and client keys and starts sshd.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let port = free_port();
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(d.join("host_key")))?;
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-m", "PEM", "-N", "", "-f"])
            .arg(d.join("client_key")))?;
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))?;
        let host_pub = std::fs::read_to_string(d.join("host_key.pub"))?;
        let mut fields = host_pub.split_whitespace();
        let known_hosts =
            format!("[127.0.0.1]:{port} {} {}\n", fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        let user = run(Command::new("id").arg("-un"))?.trim().to_string();
        std::fs::create_dir_all("/run/sshd").ok();
        std::fs::create_dir_all(d.join("repos"))?;
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             UsePAM no\nStrictModes no\nLogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config)?;
        let client_key = std::fs::read_to_string(d.join("client_key"))?;
        let mut server = Self { dir, child: None, port, client_key, known_hosts, user };
        server.resume()?;
        Ok(server)
    }

    /// Starts (again) after [`SshGitServer::stop`].
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let log = self.dir.path().join("sshd.log");
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting sshd (apt-get install openssh-server)")?;
        wait_listening(self.port, "sshd", &mut child, &log)?;
        self.child = Some(child);
        Ok(())
    }

    /// Stops sshd.
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Publishes `repo` as `<name>.git`, or updates it.
    pub fn publish(&self, name: &str, repo: &GitRepo) -> anyhow::Result<()> {
        let bare = self.dir.path().join("repos").join(format!("{name}.git"));
        if !bare.exists() {
            run(Command::new("git").args(["init", "-q", "--bare"]).arg(&bare))?;
        }
        let target = bare.display().to_string();
        repo.git(&["push", "-q", "--force", &target, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"]);
        Ok(())
    }

    /// The `ssh://` URL of a published repository.
    pub fn url(&self, name: &str) -> String {
        format!("ssh://{}@127.0.0.1:{}{}/repos/{name}.git", self.user, self.port, self.dir.path().display())
    }

    /// [`SshGitServer::known_hosts`] with the host name hashed, as `HashKnownHosts yes` writes it.
    pub fn hashed_known_hosts(&self) -> anyhow::Result<String> {
        let file = self.dir.path().join("known_hosts_hashed");
        std::fs::write(&file, &self.known_hosts)?;
        run(Command::new("ssh-keygen").arg("-q").arg("-H").arg("-f").arg(&file))?;
        Ok(std::fs::read_to_string(&file)?)
    }

    /// sshd's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for SshGitServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// squid on a free loopback port, requiring basic auth as `user`/`password`.
pub struct ProxyServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The port squid listens on.
    pub port: u16,
    /// Proxy user.
    pub user: String,
    /// Proxy password.
    pub password: String,
}

impl ProxyServer {
    /// Starts squid (no cache, only authenticated clients allowed).
    pub fn start(user: &str, password: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        // squid drops privileges to `proxy`: its files must be readable and its logs writable.
        run(Command::new("chmod").arg("0777").arg(d))?;
        let hash = run(Command::new("openssl").args(["passwd", "-apr1", password]))?;
        std::fs::write(d.join("passwd"), format!("{user}:{}\n", hash.trim()))?;
        let port = free_port();
        let config = format!(
            "http_port 127.0.0.1:{port}\n\
             auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/passwd\n\
             auth_param basic realm lockstep-test\n\
             acl authenticated proxy_auth REQUIRED\n\
             http_access allow authenticated\n\
             http_access deny all\n\
             cache deny all\n\
             pid_filename {d}/squid.pid\n\
             access_log stdio:{d}/access.log\n\
             cache_log {d}/cache.log\n\
             coredump_dir {d}\n\
             shutdown_lifetime 0 seconds\n",
            d = d.display()
        );
        std::fs::write(d.join("squid.conf"), config)?;
        let mut server = Self { dir, child: None, port, user: user.into(), password: password.into() };
        let log = server.dir.path().join("stderr.log");
        let mut child = Command::new("/usr/sbin/squid")
            .args(["-N", "-f"])
            .arg(server.dir.path().join("squid.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting squid (apt-get install squid)")?;
        wait_listening(port, "squid", &mut child, &log)?;
        server.child = Some(child);
        Ok(server)
    }

    /// The proxy URL with these credentials.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// How many requests squid logged (allowed or denied).
    pub fn requests(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default().lines().count()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}
