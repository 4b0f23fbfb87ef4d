//! Builds the control plane binaries from the Go module in tests/controlplane,
//! once: a stamp file records what go.mod, go.sum, Go version and build recipe
//! the binaries in target/controlplane/bin/ were built from.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::Workspace;
use crate::process;

/// Kubernetes version stamped into the binaries (must match go.mod).
const GIT_VERSION: &str = "v1.36.3";
/// Major part of [`GIT_VERSION`].
const GIT_MAJOR: &str = "1";
/// Minor part of [`GIT_VERSION`].
const GIT_MINOR: &str = "36";

/// Main packages built, with the name `go build` gives each binary and the
/// name we keep it under.
const PACKAGES: &[(&str, &str, &str)] = &[
    ("go.etcd.io/etcd/server/v3", "server", "etcd"),
    ("k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver", "kube-apiserver"),
    ("k8s.io/kubernetes/cmd/kube-controller-manager", "kube-controller-manager", "kube-controller-manager"),
    ("k8s.io/kubernetes/cmd/kube-scheduler", "kube-scheduler", "kube-scheduler"),
    ("k8s.io/kubernetes/cmd/kubectl", "kubectl", "kubectl"),
];

/// Absolute paths of the built control plane binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// etcd server.
    pub etcd: PathBuf,
    /// kube-apiserver.
    pub kube_apiserver: PathBuf,
    /// kube-controller-manager.
    pub kube_controller_manager: PathBuf,
    /// kube-scheduler.
    pub kube_scheduler: PathBuf,
    /// kubectl.
    pub kubectl: PathBuf,
    /// Identifies the build (a hash of the stamp).
    pub fingerprint: String,
}

impl Binaries {
    /// The binaries' paths in `dir` (whether or not they exist), built as
    /// `stamp` describes.
    fn in_dir(dir: &Path, stamp: &str) -> Self {
        Self {
            fingerprint: format!("{:016x}", fnv1a64(stamp.as_bytes())),
            etcd: dir.join("etcd"),
            kube_apiserver: dir.join("kube-apiserver"),
            kube_controller_manager: dir.join("kube-controller-manager"),
            kube_scheduler: dir.join("kube-scheduler"),
            kubectl: dir.join("kubectl"),
        }
    }

    /// All paths, for existence checks.
    fn all(&self) -> [&Path; 5] {
        [&self.etcd, &self.kube_apiserver, &self.kube_controller_manager, &self.kube_scheduler, &self.kubectl]
    }
}

/// Directory the binaries are built into.
pub fn bin_dir(ws: &Workspace) -> PathBuf {
    ws.target().join("controlplane").join("bin")
}

/// The `-ldflags` value that stamps the Kubernetes version.
fn ldflags() -> String {
    format!(
        "-X k8s.io/component-base/version.gitVersion={GIT_VERSION} \
         -X k8s.io/component-base/version.gitMajor={GIT_MAJOR} \
         -X k8s.io/component-base/version.gitMinor={GIT_MINOR}"
    )
}

/// Returns the binaries, building them first unless the stamp shows they were
/// built from the current go.mod, go.sum, Go version and recipe.
pub fn ensure(ws: &Workspace) -> Result<Binaries> {
    let module = ws.controlplane_module();
    let out_dir = bin_dir(ws);
    let stamp_path = ws.target().join("controlplane").join("stamp");
    let wanted = stamp(&module, &go_version()?)?;
    let binaries = Binaries::in_dir(&out_dir, &wanted);
    let up_to_date = |binaries: &Binaries| {
        fs::read_to_string(&stamp_path).is_ok_and(|s| s == wanted) && binaries.all().iter().all(|p| p.is_file())
    };
    if up_to_date(&binaries) {
        return Ok(binaries);
    }

    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let _lock = lock(&ws.target().join("controlplane").join("build.lock"))?;
    if up_to_date(&binaries) {
        // Another xtask built them while we waited for the lock.
        return Ok(binaries);
    }
    let _ = fs::remove_file(&stamp_path);

    eprintln!("building the control plane binaries into {} (a cold build takes several minutes)", out_dir.display());
    let started = Instant::now();
    let mut out_arg = out_dir.clone().into_os_string();
    out_arg.push("/");
    let mut cmd = Command::new("go");
    cmd.current_dir(&module)
        .env("CGO_ENABLED", "0")
        .env("GOWORK", "off")
        .arg("build")
        .arg("-o")
        .arg(out_arg)
        .arg("-ldflags")
        .arg(ldflags())
        .args(PACKAGES.iter().map(|(pkg, _, _)| pkg));
    process::run(&mut cmd).with_context(|| format!("building the Go module {}", module.display()))?;

    for (pkg, built, kept) in PACKAGES {
        if built != kept {
            let from = out_dir.join(built);
            let to = out_dir.join(kept);
            fs::rename(&from, &to)
                .with_context(|| format!("renaming {} ({pkg}) to {}", from.display(), to.display()))?;
        }
    }
    if let Some(missing) = binaries.all().into_iter().find(|p| !p.is_file()) {
        bail!("go build succeeded but {} is missing", missing.display());
    }
    fs::write(&stamp_path, &wanted).with_context(|| format!("writing {}", stamp_path.display()))?;
    eprintln!("built the control plane binaries in {}", process::secs(started.elapsed()));
    Ok(binaries)
}

/// The output of `go version` (trimmed), which every build stamp records.
pub fn go_version() -> Result<String> {
    let out = process::output(Command::new("go").arg("version"))
        .context("running `go version`; is Go installed and on PATH?")?;
    Ok(out.trim().to_owned())
}

/// Takes an exclusive lock on `path`, saying so if we have to wait.
pub fn lock(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            eprintln!("waiting for the lock {} ...", path.display());
            file.lock().with_context(|| format!("locking {}", path.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(file)
}

/// The stamp text: hashes of go.mod and go.sum plus everything else that
/// decides the build output.
fn stamp(module: &Path, go_version: &str) -> Result<String> {
    let mut text = String::new();
    for name in ["go.mod", "go.sum"] {
        let path = module.join(name);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        text.push_str(&format!("{name} fnv1a64:{:016x}\n", fnv1a64(&bytes)));
    }
    text.push_str(&format!("{go_version}\nCGO_ENABLED=0\nldflags {}\n", ldflags()));
    for (pkg, _, kept) in PACKAGES {
        text.push_str(&format!("{pkg} -> {kept}\n"));
    }
    Ok(text)
}

/// 64-bit FNV-1a: a stable content fingerprint for change detection (not a
/// security boundary).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn stamp_changes_with_go_sum() {
        let ws = Workspace::locate();
        let a = stamp(&ws.controlplane_module(), "go version go1.26.8").unwrap();
        let b = stamp(&ws.controlplane_module(), "go version go1.26.9").unwrap();
        assert_ne!(a, b);
        assert!(a.contains("go.sum fnv1a64:"));
    }
}
