//! The real `lockstep` binary, run as a controller for one test namespace.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::cluster::{kubeconfig, workspace_root};

/// A `lockstep controller` process watching one namespace; killed on drop. Its log is kept under
/// `target/e2e-logs/` and its tail is printed when a test fails.
pub struct ControllerProcess {
    child: Child,
    log: PathBuf,
    _cache: tempfile::TempDir,
}

impl ControllerProcess {
    /// Starts a controller for `namespace` with extra `args`.
    pub fn start(namespace: &str, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_cache(namespace, tempfile::tempdir()?, args)
    }

    /// Like [`ControllerProcess::start`], with a given cache directory (to restart over one cache).
    ///
    /// Leader election stays on (the default), with its Lease in the test namespace unless `args`
    /// name another, so controllers of parallel tests never compete with each other.
    pub fn start_with_cache(namespace: &str, cache: tempfile::TempDir, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_logging_to(namespace, namespace, cache, &kubeconfig(), args)
    }

    /// Like [`ControllerProcess::start`], connecting with another kubeconfig (another identity).
    pub fn start_with_kubeconfig(namespace: &str, kubeconfig: &std::path::Path, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_logging_to(namespace, namespace, tempfile::tempdir()?, kubeconfig, args)
    }

    /// Like [`ControllerProcess::start`], logging to `target/e2e-logs/<log_name>.log`, for tests that
    /// run several controllers for one namespace.
    pub fn start_named(namespace: &str, log_name: &str, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_logging_to(namespace, log_name, tempfile::tempdir()?, &kubeconfig(), args)
    }

    fn start_logging_to(
        namespace: &str,
        log_name: &str,
        cache: tempfile::TempDir,
        kubeconfig: &std::path::Path,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let names_lease_namespace =
            |a: &&str| a.starts_with("--leader-elect-resource-namespace") || a.starts_with("--controller-namespace");
        let lease_namespace: &[&str] = if args.iter().any(names_lease_namespace) {
            &[]
        } else {
            &["--leader-elect-resource-namespace", namespace]
        };
        let bin = std::env::var_os("LOCKSTEP_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/debug/lockstep"));
        let logs = workspace_root().join("target/e2e-logs");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("{log_name}.log"));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(&bin)
            .arg("controller")
            .arg("--watch-namespace")
            .arg(namespace)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(if args.iter().any(|a| a.starts_with("--log-format")) {
                &[][..]
            } else {
                &["--log-format", "text"][..]
            })
            .arg("--kustomize-path")
            .arg(tool_path("LOCKSTEP_KUSTOMIZE", "kustomize"))
            .arg("--helm-path")
            .arg(tool_path("LOCKSTEP_HELM", "helm"))
            .args(lease_namespace)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", std::env::var("LOCKSTEP_E2E_RUST_LOG").unwrap_or_else(|_| "info,lockstep=debug".into()))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("starting {} (build it with `cargo build -p lockstep`): {e}", bin.display())
            })?;
        Ok(Self { child, log, _cache: cache })
    }

    /// Stops the process (SIGTERM, so it releases its Lease; SIGKILL if it takes longer than 20 s) and
    /// hands its cache directory back, for a restart over the same cache.
    pub fn stop(mut self) -> tempfile::TempDir {
        if self.terminate(std::time::Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        std::mem::replace(&mut self._cache, tempfile::TempDir::new().expect("temporary directory"))
    }

    /// Kills the process at once (SIGKILL) and hands its cache directory back, for a restart over
    /// the same cache as after a container crash.
    pub fn crash(mut self) -> tempfile::TempDir {
        self.kill();
        std::mem::replace(&mut self._cache, tempfile::TempDir::new().expect("temporary directory"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash or a lost node would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; returns its exit status, or
    /// `None` if it still runs.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let pid = libc::pid_t::try_from(self.child.id()).ok()?;
        // SAFETY: kill(2) with a pid of our own child process and a valid signal number.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// True while the process runs (it has not crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The controller's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- controller log tail ({}) ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A rendering tool: the path in `env` (set by `cargo xtask test`), else the one `cargo xtask tools`
/// builds into target/tools/bin/.
pub fn tool_path(env: &str, name: &str) -> PathBuf {
    std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target/tools/bin").join(name))
}
