//! What goes into the image's root file system: a distroless-style base (the shared libraries the
//! binaries link against, exactly as `ldd` names them, the dynamic loader, CA certificates, a
//! non-root user), the pinned kustomize and helm, and lockstep with its bill of materials.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::layer::Entry;
use super::layout::USER_ID;
use crate::process;

/// Where the binaries live in the image.
pub const BIN_DIR: &str = "/usr/local/bin";
/// The CA bundle (Debian's path; `SSL_CERT_FILE` points at it).
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The bill of materials inside the image.
pub const SBOM_PATH: &str = "/usr/share/doc/lockstep/sbom.cdx.json";
/// The git cache (`LOCKSTEP_CACHE_DIR`), writable by the image's user.
pub const CACHE_DIR: &str = "/var/cache/lockstep";

/// The environment of the image's process.
pub fn env() -> Vec<String> {
    vec![
        format!("PATH={BIN_DIR}"),
        format!("LOCKSTEP_KUSTOMIZE={BIN_DIR}/kustomize"),
        format!("LOCKSTEP_HELM={BIN_DIR}/helm"),
        format!("LOCKSTEP_CACHE_DIR={CACHE_DIR}"),
        format!("SSL_CERT_FILE={CA_BUNDLE}"),
        "HOME=/tmp".into(),
    ]
}

/// The shared objects `ldd` lists for a binary: each library's path as the loader resolves it,
/// and the loader itself. A static binary has none; a library ldd cannot find is an error.
pub fn parse_ldd(output: &str) -> Result<Vec<String>> {
    let mut libs = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("not a dynamic executable") || line.contains("statically linked") {
            return Ok(Vec::new());
        }
        let path = match line.split_once(" => ") {
            Some((name, rest)) if rest.trim_start().starts_with("not found") => bail!("ldd cannot find {name}"),
            Some((_, rest)) => rest.split(" (").next().unwrap_or(rest).trim(),
            // The loader (`/lib64/ld-linux-x86-64.so.2 (0x…)`) or the kernel's vDSO (no path).
            None => line.split(" (").next().unwrap_or(line).trim(),
        };
        if path.starts_with('/') {
            libs.push(path.to_owned());
        }
    }
    Ok(libs)
}

/// The shared objects of `binary` on this host.
pub fn shared_objects(binary: &Path) -> Result<Vec<String>> {
    let out = Command::new("ldd").arg(binary).output().context("running ldd (from libc-bin)")?;
    // ldd exits 1 for a static binary and says so; anything else that fails is an error.
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && !text.contains("not a dynamic executable") {
        bail!("ldd {} failed: {}", binary.display(), text.trim());
    }
    parse_ldd(&text)
}

/// /etc/passwd: root, and the `lockstep` user the image runs as, its home the writable /tmp.
pub fn passwd() -> String {
    format!("root:x:0:0:root:/root:/sbin/nologin\nlockstep:x:{USER_ID}:{USER_ID}:lockstep:/tmp:/sbin/nologin\n")
}

/// /etc/group.
pub fn group() -> String {
    format!("root:x:0:\nlockstep:x:{USER_ID}:\n")
}

/// The base layer: directories, user database, name service switch, CA certificates (with
/// OpenSSL's default paths pointing at them) and the shared objects in `libs`.
pub fn base(libs: &BTreeSet<String>, ca_bundle: &Path) -> Vec<Entry> {
    let mut entries = vec![
        Entry::dir("/tmp", 0o1777),
        Entry::dir(CACHE_DIR, 0o755).owned_by(USER_ID, USER_ID),
        Entry::bytes("/etc/passwd", passwd(), 0o644),
        Entry::bytes("/etc/group", group(), 0o644),
        Entry::bytes("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n", 0o644),
        Entry::host_file(CA_BUNDLE, ca_bundle, 0o644),
        Entry::symlink("/usr/lib/ssl/cert.pem", CA_BUNDLE),
        Entry::symlink("/usr/lib/ssl/certs", "/etc/ssl/certs"),
    ];
    entries.extend(libs.iter().map(|lib| Entry::host_file(lib, lib, 0o755)));
    entries
}

/// The tools layer: kustomize and helm.
pub fn tools(kustomize: &Path, helm: &Path) -> Vec<Entry> {
    vec![
        Entry::host_file(&format!("{BIN_DIR}/kustomize"), kustomize, 0o755),
        Entry::host_file(&format!("{BIN_DIR}/helm"), helm, 0o755),
    ]
}

/// The lockstep layer: the binary and the bill of materials.
pub fn lockstep(binary: &Path, sbom: Vec<u8>) -> Vec<Entry> {
    vec![Entry::host_file(&format!("{BIN_DIR}/lockstep"), binary, 0o755), Entry::bytes(SBOM_PATH, sbom, 0o644)]
}

/// A copy of `binary` at `out` with its symbol table removed (`strip`, from binutils), so the
/// image carries no more than the program.
pub fn stripped(binary: &Path, out: &Path) -> Result<PathBuf> {
    process::output(Command::new("strip").arg("--strip-all").arg("-o").arg(out).arg(binary))
        .with_context(|| format!("stripping {}", binary.display()))?;
    Ok(out.to_path_buf())
}

/// The Debian package and version each shared object comes from, as `(package, version, arch)`.
pub fn debian_packages(libs: &BTreeSet<String>) -> Result<BTreeSet<(String, String, String)>> {
    let mut packages = BTreeSet::new();
    for lib in libs {
        let canonical = std::fs::canonicalize(lib).with_context(|| format!("resolving {lib}"))?;
        let mut owner = None;
        // dpkg records one spelling of a path; with merged /usr that may be /lib or /usr/lib.
        let candidates = [PathBuf::from(lib), canonical.clone(), strip_usr(&canonical)];
        for candidate in candidates.iter() {
            if let Ok(out) = process::output(Command::new("dpkg-query").arg("--search").arg(candidate)) {
                owner = out.lines().next().and_then(|l| l.split(':').next()).map(str::to_owned);
                break;
            }
        }
        let Some(package) = owner else { bail!("no Debian package owns {lib}: the bill of materials would miss it") };
        let fields =
            process::output(Command::new("dpkg-query").args(["-W", "-f", "${Version} ${Architecture}"]).arg(&package))?;
        let (version, arch) = fields.trim().split_once(' ').context("dpkg-query printed no version")?;
        packages.insert((
            package.split(':').next().unwrap_or(&package).to_owned(),
            version.to_owned(),
            arch.to_owned(),
        ));
    }
    Ok(packages)
}

/// `/usr/lib/x` → `/lib/x` (the spelling dpkg keeps for files moved by merged /usr).
fn strip_usr(path: &Path) -> PathBuf {
    path.strip_prefix("/usr").map(|p| Path::new("/").join(p)).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_library_paths_and_the_loader() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f01)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f03)\n";
        assert_eq!(
            parse_ldd(out).unwrap(),
            ["/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").unwrap().is_empty());
        assert!(parse_ldd("\tstatically linked\n").unwrap().is_empty());
        assert!(parse_ldd("\tlibgone.so.1 => not found\n").is_err());
    }

    #[test]
    fn the_user_database_names_the_image_user() {
        assert!(passwd().lines().any(|l| l.starts_with("lockstep:x:65532:65532:")));
        assert!(group().lines().any(|l| l == "lockstep:x:65532:"));
        assert!(env().contains(&"LOCKSTEP_CACHE_DIR=/var/cache/lockstep".to_owned()));
        let base = base(&BTreeSet::from(["/lib/x86_64-linux-gnu/libc.so.6".to_owned()]), Path::new("/ca"));
        let cache = base.iter().find(|e| e.path == CACHE_DIR).unwrap();
        assert_eq!(cache.owner, (USER_ID, USER_ID));
        assert!(base.iter().any(|e| e.path == "/lib/x86_64-linux-gnu/libc.so.6" && e.mode == 0o755));
    }

    #[test]
    fn merged_usr_paths_have_their_dpkg_spelling() {
        assert_eq!(
            strip_usr(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")),
            Path::new("/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(strip_usr(Path::new("/lib64/ld.so")), Path::new("/lib64/ld.so"));
    }
}
