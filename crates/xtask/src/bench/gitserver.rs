//! A smart-HTTP git server on loopback (lighttpd running `git http-backend`, as the end-to-end
//! tests use) whose access log tells how many ref listings and fetches the controllers made.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process;

/// A running lighttpd serving the bare repositories under its `repos/` directory.
pub struct GitServer {
    dir: PathBuf,
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

/// Requests counted in the access log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GitRequests {
    /// `GET …/info/refs` (ref listings).
    pub ref_listings: u64,
    /// `POST …/git-upload-pack` (fetches).
    pub fetches: u64,
}

impl GitServer {
    /// Starts lighttpd in `dir` (created) on a free loopback port.
    pub fn start(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir.join("repos")).with_context(|| format!("creating {}", dir.display()))?;
        fs::create_dir_all(dir.join("www")).with_context(|| format!("creating {}", dir.display()))?;
        let port = *process::free_ports(1)?.first().context("no free port")?;
        let d = dir.display();
        let config = format!(
            r#"server.modules = ("mod_alias", "mod_setenv", "mod_cgi", "mod_accesslog")
server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/error.log"
server.max-connections = 1024
accesslog.filename = "{d}/access.log"
alias.url = ("/git/" => "/usr/lib/git-core/git-http-backend/")
cgi.assign = ("" => "")
setenv.add-environment = ("GIT_PROJECT_ROOT" => "{d}/repos", "GIT_HTTP_EXPORT_ALL" => "1")
"#
        );
        let conf = dir.join("lighttpd.conf");
        fs::write(&conf, config).with_context(|| format!("writing {}", conf.display()))?;
        let stderr = fs::File::create(dir.join("stderr.log")).context("creating lighttpd's stderr log")?;
        let child = Command::new("/usr/sbin/lighttpd")
            .args(["-D", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("starting lighttpd (apt-get install lighttpd)")?;
        let server = Self { dir: dir.to_owned(), child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("lighttpd did not listen on {port}: {}", process::tail(&dir.join("error.log"), 20));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// The bare repository behind `<name>.git`, created empty if needed.
    pub fn bare(&self, name: &str) -> Result<PathBuf> {
        let bare = self.dir.join("repos").join(format!("{name}.git"));
        if !bare.exists() {
            process::output(Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&bare))?;
        }
        Ok(bare)
    }

    /// The clone URL of `<name>.git`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/git/{name}.git", self.port)
    }

    /// Requests so far for `<name>.git` (all repositories when `name` is `None`).
    pub fn requests(&self, name: Option<&str>) -> GitRequests {
        let log = fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        let needle = name.map(|n| format!("/{n}.git/"));
        let mut counts = GitRequests::default();
        for line in log.lines().filter(|l| needle.as_ref().is_none_or(|n| l.contains(n.as_str()))) {
            if line.contains("\"GET ") && line.contains("/info/refs") {
                counts.ref_listings += 1;
            } else if line.contains("\"POST ") && line.contains("/git-upload-pack") {
                counts.fetches += 1;
            }
        }
        counts
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
