//! Builds the main packages of a pinned Go module (tests/controlplane, tests/kwok, tests/tools)
//! once: a stamp file records the go.mod, go.sum, Go version and recipe the binaries were built
//! from, and a build whose stamp matches and whose binaries exist is skipped.
//!
//! Built binaries are also kept in a machine-wide cache keyed by the stamp's fingerprint
//! (`$LOCKSTEP_BUILD_CACHE`, else `$XDG_CACHE_HOME/lockstep/go-builds`, else
//! `~/.cache/lockstep/go-builds`), so a fresh clone or a second worktree on the same machine
//! links them instead of building again.

pub use lockstep_api::stable_hash::fnv1a64;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::process;

/// One stamped Go build: the module, its main packages, and where binaries, stamp and lock live.
#[derive(Debug, Clone)]
pub struct GoBuild {
    /// What the progress lines call the result ("kwok", "the control plane binaries").
    pub what: &'static str,
    /// How long a cold build takes, for the progress line ("several minutes").
    pub cold_build: &'static str,
    /// The Go module (the directory with go.mod and go.sum).
    pub module: PathBuf,
    /// Directory the binaries are built into.
    pub out_dir: PathBuf,
    /// The stamp file recording what the binaries were built from.
    pub stamp_path: PathBuf,
    /// Lock file serialising builds into `out_dir`.
    pub lock_path: PathBuf,
    /// The `-ldflags` value, if any (recorded in the stamp).
    pub ldflags: Option<String>,
    /// `GOFLAGS` for the build, if any (recorded in the stamp): `-mod=mod` for a module whose
    /// go.sum cannot be tidied here.
    pub goflags: Option<&'static str>,
    /// Main packages, with the name `go build` gives each binary and the name we keep it under.
    pub packages: &'static [(&'static str, &'static str, &'static str)],
}

impl GoBuild {
    /// Absolute paths of the kept binaries (whether or not they exist).
    pub fn binaries(&self) -> Vec<PathBuf> {
        self.packages.iter().map(|(_, _, kept)| self.out_dir.join(kept)).collect()
    }

    /// Builds the binaries unless the stamp shows they were built from the current go.mod, go.sum,
    /// Go version and recipe; returns the stamp text (what callers fingerprint).
    pub fn ensure(&self) -> Result<String> {
        let wanted = self.stamp(&go_version()?)?;
        let up_to_date = || {
            fs::read_to_string(&self.stamp_path).is_ok_and(|s| s == wanted)
                && self.binaries().iter().all(|p| p.is_file())
        };
        if up_to_date() {
            return Ok(wanted);
        }
        fs::create_dir_all(&self.out_dir).with_context(|| format!("creating {}", self.out_dir.display()))?;
        let _lock = lock(&self.lock_path)?;
        if up_to_date() {
            // Another xtask built them while we waited for the lock.
            return Ok(wanted);
        }
        let _ = fs::remove_file(&self.stamp_path);
        // Never build over files that may be links into the cache.
        for binary in self.binaries() {
            let _ = fs::remove_file(binary);
        }
        let cached = cache_root().map(|root| root.join(format!("{:016x}", fnv1a64(wanted.as_bytes()))));
        let restored = cached.as_deref().is_some_and(|dir| self.restore(dir, &wanted));
        if !restored {
            self.build()?;
            if let Some(dir) = &cached
                && let Err(e) = self.keep(dir, &wanted)
            {
                eprintln!("note: could not keep {} in the build cache {}: {e:#}", self.what, dir.display());
            }
        }
        fs::write(&self.stamp_path, &wanted).with_context(|| format!("writing {}", self.stamp_path.display()))?;
        Ok(wanted)
    }

    /// Links (or copies) the binaries from the cache entry `dir` if it holds this exact build.
    fn restore(&self, dir: &Path, wanted: &str) -> bool {
        if !fs::read_to_string(dir.join("stamp")).is_ok_and(|s| s == wanted) {
            return false;
        }
        let restored = self.packages.iter().all(|(_, _, kept)| {
            let (from, to) = (dir.join(kept), self.out_dir.join(kept));
            fs::hard_link(&from, &to).or_else(|_| fs::copy(&from, &to).map(drop)).is_ok()
        });
        if restored {
            eprintln!("{}: reusing the build cached in {}", self.what, dir.display());
        }
        restored
    }

    /// Puts the freshly built binaries into the cache entry `dir` (complete entries only: the stamp
    /// is written last).
    fn keep(&self, dir: &Path, wanted: &str) -> Result<()> {
        let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        for (_, _, kept) in self.packages {
            let (from, to) = (self.out_dir.join(kept), tmp.join(kept));
            fs::hard_link(&from, &to)
                .or_else(|_| fs::copy(&from, &to).map(drop))
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
        fs::write(tmp.join("stamp"), wanted).with_context(|| format!("writing {}", tmp.join("stamp").display()))?;
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("replacing {}", dir.display()))?;
        }
        fs::rename(&tmp, dir).with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))
    }

    /// Runs `go build` for every package into `out_dir` and renames binaries to their kept names.
    fn build(&self) -> Result<()> {
        let out_dir = &self.out_dir;
        eprintln!("building {} into {} (a cold build takes {})", self.what, out_dir.display(), self.cold_build);
        let started = Instant::now();
        let mut out_arg = out_dir.clone().into_os_string();
        out_arg.push("/");
        let mut cmd = Command::new("go");
        cmd.current_dir(&self.module).env("CGO_ENABLED", "0").env("GOWORK", "off").args(["build", "-o"]).arg(out_arg);
        if let Some(ldflags) = &self.ldflags {
            cmd.arg("-ldflags").arg(ldflags);
        }
        if let Some(goflags) = self.goflags {
            cmd.env("GOFLAGS", goflags);
        }
        cmd.args(self.packages.iter().map(|(pkg, _, _)| pkg));
        process::run(&mut cmd).with_context(|| format!("building the Go module {}", self.module.display()))?;

        for (pkg, built, kept) in self.packages {
            if built != kept {
                let from = out_dir.join(built);
                let to = out_dir.join(kept);
                fs::rename(&from, &to)
                    .with_context(|| format!("renaming {} ({pkg}) to {}", from.display(), to.display()))?;
            }
        }
        if let Some(missing) = self.binaries().into_iter().find(|p| !p.is_file()) {
            bail!("go build succeeded but {} is missing", missing.display());
        }
        eprintln!("built {} in {}", self.what, process::secs(started.elapsed()));
        Ok(())
    }

    /// The stamp text: hashes of go.mod and go.sum plus everything else that decides the build
    /// output. Running clusters compare fingerprints of it, so its format must stay stable.
    pub fn stamp(&self, go_version: &str) -> Result<String> {
        let mut text = String::new();
        for name in ["go.mod", "go.sum"] {
            let path = self.module.join(name);
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            text.push_str(&format!("{name} fnv1a64:{:016x}\n", fnv1a64(&bytes)));
        }
        text.push_str(&format!("{go_version}\nCGO_ENABLED=0\n"));
        if let Some(ldflags) = &self.ldflags {
            text.push_str(&format!("ldflags {ldflags}\n"));
        }
        if let Some(goflags) = self.goflags {
            text.push_str(&format!("GOFLAGS={goflags}\n"));
        }
        for (pkg, _, kept) in self.packages {
            text.push_str(&format!("{pkg} -> {kept}\n"));
        }
        Ok(text)
    }
}

/// The machine-wide cache of built Go binaries, if a location can be found.
pub fn cache_root() -> Option<PathBuf> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = from_env("LOCKSTEP_BUILD_CACHE") {
        return Some(dir);
    }
    let base = from_env("XDG_CACHE_HOME").or_else(|| from_env("HOME").map(|home| home.join(".cache")))?;
    Some(base.join("lockstep").join("go-builds"))
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
