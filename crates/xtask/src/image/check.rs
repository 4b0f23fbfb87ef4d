//! The `image` phase of `cargo xtask test`: builds the image, reads it back from its archive as a
//! runtime would (every digest and size checked), unpacks the root file system and runs the image's
//! own binaries in it with `chroot` as the image's user: `lockstep version`, kustomize, helm, and
//! `lockstep controller` against the test control plane, which must lead, report ready, run as uid
//! 65532 and sync an Application rendered by the image's kustomize from a repository in the image.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::layout::USER_ID;
use super::{Built, ImageArgs, rootfs, verify};
use crate::Workspace;
use crate::cluster::Cluster;
use crate::process;

/// Where the kubeconfig is copied inside the unpacked root file system.
const KUBECONFIG: &str = "/etc/lockstep/kubeconfig";
/// The git repository created inside the root file system for the sync check.
const REPO: &str = "/srv/repo";

/// Builds the image as `args` say and checks it against `cluster`; needs root (for `chroot`).
pub fn run(ws: &Workspace, cluster: &Cluster, args: &ImageArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the image check runs the image's binaries with `chroot --userspec`, which needs root; \
             run `cargo xtask test` as root (CI does) or pass --no-image"
        );
    }
    let built = super::build(ws, args)?;
    let scratch = tempfile::Builder::new().prefix("image-check-").tempdir_in(ws.target())?;
    let layout = scratch.path().join("layout");
    let root = scratch.path().join("rootfs");
    let image = verify::unpack_archive(&built.archive, &layout)?;
    ensure!(image.reference.digest().to_string() == built.digest, "the archive's manifest is not the one just built");
    verify::extract(&layout, &image, &root)?;
    runtime_devices(&root)?;
    let env = check_config(&image.config, &built)?;
    check_sbom(&root, &built)?;
    let chroot = Chroot { root: root.clone(), env };

    let version = chroot.output(&["/usr/local/bin/lockstep", "version", "--client"])?;
    ensure!(version.trim() == format!("lockstep {}", built.meta.version), "lockstep version printed {version:?}");
    let kustomize = chroot.output(&["/usr/local/bin/kustomize", "version"])?;
    ensure!(kustomize.trim() == "v5.8.2", "kustomize version printed {kustomize:?}");
    let helm = chroot.output(&["/usr/local/bin/helm", "version", "--short"])?;
    ensure!(helm.starts_with("v3.22.0"), "helm version --short printed {helm:?}");

    fs::create_dir_all(root.join("etc/lockstep"))?;
    // Readable by the image's user only, as a mounted Secret would be.
    let kubeconfig = root.join(KUBECONFIG.trim_start_matches('/'));
    fs::copy(&cluster.kubeconfig, &kubeconfig)?;
    std::os::unix::fs::chown(&kubeconfig, Some(USER_ID), Some(USER_ID))?;
    fs::set_permissions(&kubeconfig, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let server = chroot.output(&["/usr/local/bin/lockstep", "version", "--kubeconfig", KUBECONFIG])?;
    ensure!(server.contains("\nkubernetes v"), "lockstep version did not reach the API server: {server:?}");
    eprintln!("image: lockstep, kustomize and helm run from the image as {USER_ID}; {}", server.replace('\n', ", "));

    check_controller(ws, cluster, &chroot, scratch.path())
}

/// Checks the config a runtime reads, and returns the environment it gives the process.
fn check_config(config: &oci_spec::image::ImageConfiguration, built: &Built) -> Result<Vec<String>> {
    let c = config.config().as_ref().context("the image has no config")?;
    ensure!(c.user().as_deref() == Some("65532:65532"), "the image runs as {:?}", c.user());
    ensure!(
        c.entrypoint().as_deref() == Some(&["/usr/local/bin/lockstep".to_owned()][..]),
        "entrypoint {:?}",
        c.entrypoint()
    );
    let labels = c.labels().clone().unwrap_or_default();
    for (label, want) in [
        ("org.opencontainers.image.version", &built.meta.version),
        ("org.opencontainers.image.revision", &built.meta.revision),
        ("org.opencontainers.image.created", &built.meta.created),
    ] {
        ensure!(labels.get(label) == Some(want), "label {label} is {:?}, expected {want}", labels.get(label));
    }
    Ok(c.env().clone().unwrap_or_default())
}

/// The bill of materials in the image is the one beside the archive and names the three binaries.
fn check_sbom(root: &Path, built: &Built) -> Result<()> {
    let inside = fs::read(root.join(rootfs::SBOM_PATH.trim_start_matches('/')))?;
    ensure!(inside == fs::read(&built.sbom)?, "the image's bill of materials differs from {}", built.sbom.display());
    let doc: Value = serde_json::from_slice(&inside)?;
    ensure!(doc["bomFormat"] == "CycloneDX" && doc["specVersion"] == "1.5", "not a CycloneDX 1.5 document");
    let purls: Vec<&str> =
        doc["components"].as_array().into_iter().flatten().filter_map(|c| c["purl"].as_str()).collect();
    for want in [
        format!("pkg:cargo/lockstep@{}", built.meta.version),
        "pkg:cargo/kube@".into(),
        "pkg:golang/sigs.k8s.io/kustomize/kustomize/v5@v5.8.2".into(),
        "pkg:golang/helm.sh/helm/v3@v3.22.0".into(),
        "pkg:deb/debian/libc6@".into(),
    ] {
        ensure!(purls.iter().any(|p| p.starts_with(&want)), "the bill of materials has no {want}");
    }
    Ok(())
}

/// The device nodes every container runtime provides in `/dev` (the image has none of its own);
/// without /dev/null no child process can be started with a closed stdin.
fn runtime_devices(root: &Path) -> Result<()> {
    let dev = root.join("dev");
    fs::create_dir_all(&dev)?;
    for (name, minor) in [("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)] {
        let path = dev.join(name);
        process::output(Command::new("mknod").args(["-m", "666"]).arg(&path).args(["c", "1", &minor.to_string()]))?;
    }
    Ok(())
}

/// Runs programs of the unpacked image as its user, with its environment only.
struct Chroot {
    root: PathBuf,
    env: Vec<String>,
}

impl Chroot {
    fn command(&self, argv: &[&str]) -> Command {
        // Resolved on the host's PATH: the child's environment below is the image's.
        let mut cmd = Command::new(host_program("chroot"));
        cmd.arg(format!("--userspec={USER_ID}:{USER_ID}")).arg(&self.root).args(argv).env_clear();
        for pair in &self.env {
            if let Some((k, v)) = pair.split_once('=') {
                cmd.env(k, v);
            }
        }
        cmd
    }

    fn output(&self, argv: &[&str]) -> Result<String> {
        process::output(&mut self.command(argv)).with_context(|| format!("running {} from the image", argv[0]))
    }
}

/// The controller from the image, as uid 65532, in its own namespace: it must take the Lease,
/// answer `/readyz`, and sync an Application rendered with the image's kustomize.
fn check_controller(ws: &Workspace, cluster: &Cluster, chroot: &Chroot, scratch: &Path) -> Result<()> {
    let ns = format!("image-check-{}", std::process::id());
    let kubectl = |args: &[&str]| {
        process::output(Command::new(&cluster.kubectl).arg("--kubeconfig").arg(&cluster.kubeconfig).args(args))
    };
    kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &ws.root.join("crds").display().to_string()])?;
    kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "crd/applications.lockstep.dev"])?;
    kubectl(&["create", "namespace", &ns])?;
    let result = (|| {
        let head = create_repo(&chroot.root)?;
        let port = process::free_ports(1)?[0];
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let log = scratch.join("controller.log");
        let mut controller = Controller::start(chroot, &ns, addr, &log)?;
        let outcome = (|| {
            wait_for(&mut controller, "/readyz to answer 200", || {
                Ok(matches!(crate::bench::http::get(addr, "/readyz"), Ok((200, _))))
            })?;
            let pid = controller.child.id();
            let holder_suffix = format!("_{pid}");
            wait_for(&mut controller, "the controller to hold its Lease", || {
                let holder =
                    kubectl(&["get", "lease", "lockstep-controller", "-n", &ns, "-o=jsonpath={.spec.holderIdentity}"]);
                Ok(holder.is_ok_and(|h| h.ends_with(&holder_suffix)))
            })?;
            check_user(pid, &chroot.root)?;
            let application = application(&ns);
            let path = scratch.join("application.yaml");
            fs::write(&path, application)?;
            kubectl(&["apply", "-f", &path.display().to_string()])?;
            let want = format!("Synced/Healthy/{head}");
            wait_for(&mut controller, "the Application to sync", || {
                let status = kubectl(&["get", "application", "image-check", "-n", &ns, STATUS])?;
                Ok(status == want)
            })?;
            let label =
                kubectl(&["get", "configmap", "greeting", "-n", &ns, "-o=jsonpath={.metadata.labels.rendered-by}"])?;
            ensure!(label == "kustomize", "the ConfigMap was not rendered by kustomize: label {label:?}");
            eprintln!("image: the controller from the image ran as {USER_ID}, led, was ready and synced {head}");
            Ok(())
        })();
        let stopped = controller.stop();
        if outcome.is_err() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!("image: the controller's log ends with:");
            tail.iter().rev().for_each(|l| eprintln!("  {l}"));
        }
        outcome.and(stopped)
    })();
    let cleanup = kubectl(&["delete", "namespace", &ns, "--wait=false"]);
    result?;
    cleanup.map(drop)
}

const STATUS: &str = "-o=jsonpath={.status.sync.status}/{.status.health.status}/{.status.sync.revision}";

/// The Application the check syncs: the repository inside the image, rendered by Kustomize.
fn application(ns: &str) -> String {
    format!(
        "apiVersion: lockstep.dev/v1alpha1\nkind: Application\nmetadata:\n  name: image-check\n  namespace: {ns}\n\
         spec:\n  source:\n    repoURL: file://{REPO}\n    targetRevision: main\n    path: app\n\
         \x20 destination:\n    namespace: {ns}\n  syncPolicy:\n    automated: {{}}\n"
    )
}

/// A git repository at [`REPO`] in the root file system, owned by the image's user, with a
/// Kustomization that labels a ConfigMap; returns the commit.
fn create_repo(root: &Path) -> Result<String> {
    let repo = root.join(REPO.trim_start_matches('/'));
    fs::create_dir_all(repo.join("app"))?;
    fs::write(
        repo.join("app/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [configmap.yaml]\n\
         labels:\n  - pairs: {rendered-by: kustomize}\n",
    )?;
    fs::write(
        repo.join("app/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  message: hello from the image\n",
    )?;
    let git = |args: &[&str]| {
        process::output(
            Command::new("git")
                .current_dir(&repo)
                .args(["-c", "user.name=image check", "-c", "user.email=check@lockstep.invalid"])
                .args(args),
        )
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "."])?;
    git(&["commit", "-q", "-m", "a Kustomize application"])?;
    let head = git(&["rev-parse", "HEAD"])?.trim().to_owned();
    process::output(Command::new("chown").arg("-R").arg(format!("{USER_ID}:{USER_ID}")).arg(&repo))?;
    Ok(head)
}

/// The process runs as the image's user, inside the unpacked root file system.
fn check_user(pid: u32, root: &Path) -> Result<()> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    for field in ["Uid:", "Gid:"] {
        let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field} in status"))?;
        let ids: Vec<&str> = line.split_whitespace().skip(1).collect();
        ensure!(ids.len() == 4 && ids.iter().all(|id| *id == USER_ID.to_string()), "the controller runs with {line}");
    }
    let exe_root = fs::read_link(format!("/proc/{pid}/root"))?;
    ensure!(exe_root == fs::canonicalize(root)?, "the controller's root is {}", exe_root.display());
    Ok(())
}

/// `name` found on the host's PATH (or in /usr/sbin, where Debian keeps chroot), else `name` itself.
fn host_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// `lockstep controller` from the image.
struct Controller {
    child: Child,
    log: PathBuf,
}

impl Controller {
    fn start(chroot: &Chroot, ns: &str, metrics: SocketAddr, log: &Path) -> Result<Self> {
        let file = fs::File::create(log)?;
        let metrics = metrics.to_string();
        let mut cmd = chroot.command(&[
            "/usr/local/bin/lockstep",
            "controller",
            "--watch-namespace",
            ns,
            "--leader-elect-resource-namespace",
            ns,
            "--metrics-addr",
            &metrics,
            "--log-format",
            "json",
        ]);
        cmd.env("KUBECONFIG", KUBECONFIG).stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
        let child = cmd.spawn().context("starting the controller from the image")?;
        Ok(Self { child, log: log.to_path_buf() })
    }

    /// SIGTERM, then SIGKILL after 20 s; fails if it had to be killed or exited non-zero.
    fn stop(mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the controller exited early with {status}; log: {}", self.log.display());
        }
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) on our own child with a valid signal.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                ensure!(status.success(), "the controller exited with {status} on SIGTERM");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("the controller ignored SIGTERM for 20 s")
    }
}

/// Polls `probe` every 250 ms for up to two minutes, failing early if the controller exits.
fn wait_for(controller: &mut Controller, what: &str, probe: impl Fn() -> Result<bool>) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if let Some(status) = controller.child.try_wait()? {
            bail!("the controller exited with {status} while waiting for {what}; log: {}", controller.log.display());
        }
        if probe()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("timed out after 120 s waiting for {what}; log: {}", controller.log.display())
}
