//! What `cargo xtask test` and `cargo xtask demo` need from the machine before they build anything:
//! Debian packages (installed when we are root and apt is there, else we stop with the exact command;
//! the test task's set includes headless Chromium and its WebDriver for the web UI's browser tests),
//! Go at the version the pinned modules ask for, and rustfmt/clippy for the lint phase.
//!
//! The decisions ([`package_plan`], [`go_is_recent_enough`]) are pure; the probing and installing
//! around them is thin.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::process;

/// A Debian package and why it is needed (printed when it is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The Debian package name.
    pub name: &'static str,
    /// What uses it.
    pub why: &'static str,
}

/// Packages every task needs: building libgit2 and the test servers' tools.
const BUILD: &[Package] = &[
    Package { name: "git", why: "the demo and test repositories, git http-backend" },
    Package { name: "pkg-config", why: "building libgit2 (git2)" },
    Package { name: "libssl-dev", why: "building libgit2 with HTTPS (git2)" },
    Package { name: "openssl", why: "test certificates and keys" },
    Package { name: "ca-certificates", why: "TLS roots for crates.io and the Go module proxy" },
];

/// Packages the end-to-end tests add: real git servers and a real proxy.
const TEST_SERVERS: &[Package] = &[
    Package { name: "lighttpd", why: "git over HTTP(S) in tests/e2e (with git http-backend)" },
    Package { name: "lighttpd-mod-openssl", why: "lighttpd's TLS module (HTTPS git servers in tests/e2e)" },
    Package { name: "openssh-server", why: "git over SSH in tests/e2e (sshd)" },
    Package { name: "openssh-client", why: "ssh-keygen for the SSH test keys" },
    Package { name: "squid", why: "the password-protected proxy in tests/e2e" },
    Package { name: "gnupg", why: "PGP test keys in tests/e2e (sops encrypts for PGP recipients through gpg)" },
];

/// Packages the browser tests of `lockstep ui` add: headless Chromium driven over WebDriver.
const BROWSER: &[Package] = &[
    Package { name: "chromium", why: "the web UI's browser tests in tests/e2e (headless, /usr/bin/chromium)" },
    Package { name: "chromium-driver", why: "WebDriver for Chromium in tests/e2e (/usr/bin/chromedriver)" },
];

/// Which task asks, deciding the package set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// `cargo xtask demo`: builds and runs the controller against a local repository.
    Demo,
    /// `cargo xtask test`: everything, including the test servers.
    Test,
}

/// The packages a task needs, in install order.
pub fn packages(task: Task) -> Vec<Package> {
    match task {
        Task::Demo => BUILD.to_vec(),
        Task::Test => BUILD.iter().chain(TEST_SERVERS).chain(BROWSER).copied().collect(),
    }
}

/// What to do about missing packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackagePlan {
    /// Everything is installed.
    Present,
    /// Install these with apt (we are root and apt-get exists).
    Install(Vec<&'static str>),
    /// Stop before any build and tell the user to run `command`.
    Stop {
        /// The missing packages with what needs them.
        missing: Vec<Package>,
        /// The exact command that installs them.
        command: String,
    },
}

/// Decides what to do about `missing` packages, given whether we run as root and have apt-get.
pub fn package_plan(missing: &[Package], root: bool, apt: bool) -> PackagePlan {
    if missing.is_empty() {
        return PackagePlan::Present;
    }
    let names: Vec<&'static str> = missing.iter().map(|p| p.name).collect();
    if root && apt {
        return PackagePlan::Install(names);
    }
    let install = format!("apt-get update && apt-get install -y --no-install-recommends {}", names.join(" "));
    let command = if root { install } else { format!("sudo sh -c '{install}'") };
    PackagePlan::Stop { missing: missing.to_vec(), command }
}

/// The oldest Go the pinned Go modules build with (their go.mod files say `go 1.26.0`).
pub const MIN_GO: (u32, u32) = (1, 26);

/// Whether `go version` output names a Go at least [`MIN_GO`]; `None` if it can't be read.
pub fn go_is_recent_enough(go_version_output: &str) -> Option<bool> {
    let version = go_version_output.split_whitespace().find_map(|word| word.strip_prefix("go1."))?;
    let minor: u32 = version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((1, minor) >= MIN_GO)
}

/// Checks (and if we may, installs) what `task` needs; fails at once, before any build, with the
/// command to run when something is missing and we can't install it ourselves.
pub fn ensure(task: Task) -> Result<()> {
    ensure_packages(task)?;
    ensure_go()?;
    Ok(())
}

fn ensure_packages(task: Task) -> Result<()> {
    let wanted = packages(task);
    let dpkg = Path::new("/usr/bin/dpkg-query").is_file();
    if !dpkg {
        eprintln!("note: no dpkg here; not checking Debian packages ({})", names(&wanted));
        return Ok(());
    }
    let missing: Vec<Package> = wanted.into_iter().filter(|p| !installed(p.name)).collect();
    let root = process::output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let apt = Path::new("/usr/bin/apt-get").is_file();
    match package_plan(&missing, root, apt) {
        PackagePlan::Present => Ok(()),
        PackagePlan::Install(names) => {
            eprintln!("installing Debian packages: {}", names.join(" "));
            let apt_get = |args: &[&str]| {
                process::run(
                    Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").stdin(Stdio::null()),
                )
            };
            apt_get(&["update", "-q"]).context("apt-get update")?;
            let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
            install.extend(names.iter().copied());
            apt_get(&install).context("apt-get install")?;
            if let Some(still) = names.iter().find(|n| !installed(n)) {
                bail!("apt-get install finished but {still} is still not installed");
            }
            Ok(())
        }
        PackagePlan::Stop { missing, command } => {
            let list: Vec<String> = missing.iter().map(|p| format!("  {} ({})", p.name, p.why)).collect();
            bail!(
                "missing Debian packages:\n{}\nrun as root:\n  {command}\nthen run this command again",
                list.join("\n")
            )
        }
    }
}

fn names(packages: &[Package]) -> String {
    packages.iter().map(|p| p.name).collect::<Vec<_>>().join(" ")
}

/// Whether dpkg says `name` is installed.
fn installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn ensure_go() -> Result<()> {
    let (want_major, want_minor) = MIN_GO;
    let output = match process::output(Command::new("go").arg("version")) {
        Ok(output) => output,
        Err(_) => bail!(
            "Go is not on PATH (it builds the local control plane and the rendering tools).\n\
             Install Go {want_major}.{want_minor} or newer and put its bin directory on PATH, e.g.\n  \
             export PATH=$PATH:/usr/local/go/bin"
        ),
    };
    match go_is_recent_enough(&output) {
        Some(true) => Ok(()),
        Some(false) => bail!(
            "{} is too old: the pinned Go modules in tests/ need Go {want_major}.{want_minor} or newer. \
             Install a newer Go and put it first on PATH.",
            output.trim()
        ),
        None => bail!("could not read the Go version from `go version`: {:?}", output.trim()),
    }
}

/// Adds rustfmt and clippy through rustup when the lint phase needs them and they are missing.
pub fn ensure_lint_components(cargo: &Path) -> Result<()> {
    let works =
        |tool: &str| Command::new(cargo).args([tool, "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if works("fmt").is_ok_and(|s| s.success()) && works("clippy").is_ok_and(|s| s.success()) {
        return Ok(());
    }
    eprintln!("adding rustfmt and clippy (rustup component add rustfmt clippy)");
    process::run(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]).stdin(Stdio::null()))
        .context("rustfmt or clippy is missing and `rustup component add rustfmt clippy` failed; run it by hand")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &'static str) -> Package {
        Package { name, why: "test" }
    }

    #[test]
    fn nothing_missing_means_nothing_to_do() {
        assert_eq!(package_plan(&[], false, false), PackagePlan::Present);
    }

    #[test]
    fn root_with_apt_installs() {
        assert_eq!(
            package_plan(&[pkg("squid"), pkg("lighttpd")], true, true),
            PackagePlan::Install(vec!["squid", "lighttpd"])
        );
    }

    #[test]
    fn not_root_stops_with_a_sudo_command() {
        let PackagePlan::Stop { missing, command } = package_plan(&[pkg("squid")], false, true) else {
            panic!("expected a stop")
        };
        assert_eq!(missing, [pkg("squid")]);
        assert_eq!(command, "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends squid'");
    }

    #[test]
    fn root_without_apt_stops_with_the_plain_command() {
        let PackagePlan::Stop { command, .. } = package_plan(&[pkg("squid"), pkg("git")], true, false) else {
            panic!("expected a stop")
        };
        assert_eq!(command, "apt-get update && apt-get install -y --no-install-recommends squid git");
    }

    #[test]
    fn the_test_task_needs_the_test_servers_and_the_demo_does_not() {
        let test: Vec<_> = packages(Task::Test).iter().map(|p| p.name).collect();
        let demo: Vec<_> = packages(Task::Demo).iter().map(|p| p.name).collect();
        for server in ["lighttpd", "lighttpd-mod-openssl", "openssh-server", "squid", "chromium", "chromium-driver"] {
            assert!(test.contains(&server), "{server} missing from the test set");
            assert!(!demo.contains(&server), "{server} is not needed by the demo");
        }
        assert!(demo.iter().all(|p| test.contains(p)));
    }

    #[test]
    fn min_go_covers_every_pinned_module() {
        let ws = crate::Workspace::locate();
        for module in ["controlplane", "kwok", "tools"] {
            let go_mod = std::fs::read_to_string(ws.root.join("tests").join(module).join("go.mod")).unwrap();
            let directive = go_mod.lines().find_map(|l| l.strip_prefix("go ")).unwrap();
            let ok = go_is_recent_enough(&format!("go version go{directive} linux/amd64")).unwrap();
            assert!(ok, "tests/{module}/go.mod asks for go {directive}, which MIN_GO {MIN_GO:?} does not cover");
            let minor: u32 = directive.split('.').nth(1).unwrap().parse().unwrap();
            assert!(minor <= MIN_GO.1, "tests/{module}/go.mod asks for go {directive}, newer than MIN_GO {MIN_GO:?}");
        }
    }

    #[test]
    fn go_versions() {
        assert_eq!(go_is_recent_enough("go version go1.26.8 linux/amd64"), Some(true));
        assert_eq!(go_is_recent_enough("go version go1.27rc1 linux/amd64"), Some(true));
        assert_eq!(go_is_recent_enough("go version go1.25.3 linux/amd64"), Some(false));
        assert_eq!(go_is_recent_enough("go version go1.9 linux/amd64"), Some(false));
        assert_eq!(go_is_recent_enough("go version devel +abc"), None);
        assert_eq!(go_is_recent_enough(""), None);
    }
}
