//! Running kustomize or helm inside the sandbox: a scrubbed environment whose homes and caches are
//! a scratch directory, a dead proxy instead of the network, a timeout and a cap on what it may print.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::error::RenderError;

/// How much of a tool's stderr is kept for the error message.
const STDERR_CAP: usize = 64 * 1024;
/// Longest tool message put into a condition.
const MESSAGE_CAP: usize = 1024;

/// Limits every tool run obeys.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Wall-clock limit of one run.
    pub timeout: Duration,
    /// Most bytes a run may write to stdout.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(90), max_output: 64 * 1024 * 1024 }
    }
}

/// One invocation: the tool's display name and path, its arguments, where it runs.
pub(crate) struct Invocation<'a> {
    pub tool: &'static str,
    pub program: &'a Path,
    pub args: Vec<String>,
    pub cwd: &'a Path,
    /// Scratch directory used as HOME and for every cache the tool keeps.
    pub scratch: &'a Path,
}

/// The environment a tool sees: nothing inherited except a plain PATH (for what the tool itself
/// starts; the tool was already found on the caller's PATH); homes and caches in
/// `scratch`; a dead proxy so anything that reaches for the network fails fast.
pub(crate) fn scrubbed_env(scratch: &Path) -> Vec<(&'static str, PathBuf)> {
    let s = |sub: &str| scratch.join(sub);
    vec![
        ("PATH", PathBuf::from("/usr/local/bin:/usr/bin:/bin")),
        ("HOME", s("home")),
        ("XDG_CONFIG_HOME", s("config")),
        ("XDG_CACHE_HOME", s("cache")),
        ("XDG_DATA_HOME", s("data")),
        ("HELM_CACHE_HOME", s("helm/cache")),
        ("HELM_CONFIG_HOME", s("helm/config")),
        ("HELM_DATA_HOME", s("helm/data")),
        ("HELM_PLUGINS", s("helm/plugins")),
        ("KUBECONFIG", s("no-kubeconfig")),
        ("TMPDIR", s("tmp")),
        ("HTTP_PROXY", PathBuf::from("http://127.0.0.1:9")),
        ("HTTPS_PROXY", PathBuf::from("http://127.0.0.1:9")),
        ("GIT_TERMINAL_PROMPT", PathBuf::from("0")),
    ]
}

/// The flag (and environment variable) that names each tool's executable, for error messages.
fn flag_of(tool: &str) -> &'static str {
    match tool {
        "kustomize" => "--kustomize-path (LOCKSTEP_KUSTOMIZE)",
        "helm" => "--helm-path (LOCKSTEP_HELM)",
        _ => "the tool's path",
    }
}

/// Finds `program` as the caller would, on the caller's `search_path` (relative paths from the
/// working directory), since the sandbox's own `PATH` is not the user's.
pub(crate) fn resolve_program(
    tool: &'static str,
    program: &Path,
    search_path: Option<OsString>,
) -> Result<PathBuf, RenderError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    which::which_in(program, search_path, cwd).map_err(|e| {
        let looked = if program.components().count() > 1 { "it is not an executable file" } else { "not on PATH" };
        RenderError::ToolUnavailable {
            tool,
            path: program.display().to_string(),
            message: format!("{looked} ({e}); point {} at it", flag_of(tool)),
        }
    })
}

/// Runs the invocation and returns its stdout; failures carry the tool's trimmed stderr.
pub(crate) async fn run(inv: Invocation<'_>, limits: &Limits) -> Result<Vec<u8>, RenderError> {
    let program = resolve_program(inv.tool, inv.program, std::env::var_os("PATH"))?;
    let env = scrubbed_env(inv.scratch);
    for (_, dir) in env.iter().filter(|(k, _)| k.ends_with("HOME") || *k == "TMPDIR") {
        std::fs::create_dir_all(dir).map_err(|e| RenderError::scratch(dir.display(), e))?;
    }
    let mut child = Command::new(&program)
        .args(&inv.args)
        .current_dir(inv.cwd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RenderError::ToolUnavailable {
            tool: inv.tool,
            path: program.display().to_string(),
            message: format!("{e}; point {} at a working executable", flag_of(inv.tool)),
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(RenderError::scratch(inv.tool, "pipes were not set up"));
    };
    let work = async {
        let (out, err) = tokio::join!(read_capped(stdout, limits.max_output), read_capped(stderr, STDERR_CAP));
        (out, err)
    };
    let Ok((out, err)) = tokio::time::timeout(limits.timeout, work).await else {
        let _ = child.start_kill();
        return Err(RenderError::Timeout { tool: inv.tool, seconds: limits.timeout.as_secs() });
    };
    let (out, over) = out.map_err(|e| RenderError::scratch(format!("{} stdout", inv.tool), e))?;
    if over {
        let _ = child.start_kill();
        return Err(RenderError::OutputTooLarge { tool: inv.tool, limit: limits.max_output });
    }
    let status = match tokio::time::timeout(limits.timeout, child.wait()).await {
        Ok(status) => status.map_err(|e| RenderError::scratch(inv.tool, e))?,
        Err(_) => return Err(RenderError::Timeout { tool: inv.tool, seconds: limits.timeout.as_secs() }),
    };
    if !status.success() {
        let stderr = err.map(|(bytes, _)| bytes).unwrap_or_default();
        return Err(RenderError::Tool {
            tool: inv.tool,
            message: trim_message(&String::from_utf8_lossy(&stderr), inv.scratch),
        });
    }
    Ok(out)
}

/// Reads up to `cap` bytes; the flag says the stream had more (and was abandoned).
async fn read_capped(mut reader: impl AsyncRead + Unpin, cap: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok((buf, false));
        }
        if buf.len() + n > cap {
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The part of a tool's stderr worth showing: from its last `Error:` on (else all of it), without
/// scratch paths, whitespace collapsed per line, at most [`MESSAGE_CAP`] characters.
pub fn trim_message(stderr: &str, scratch: &Path) -> String {
    let text = stderr.rfind("Error: ").map_or(stderr, |i| &stderr[i + "Error: ".len()..]);
    let scratch = scratch.display().to_string();
    let text = if scratch.len() > 1 { text.replace(&scratch, "") } else { text.to_string() };
    let joined = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    if joined.chars().count() > MESSAGE_CAP {
        let cut: String = joined.chars().take(MESSAGE_CAP).collect();
        format!("{cut}…")
    } else if joined.is_empty() {
        "no error output".into()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keeps_the_last_error_and_drops_scratch_paths() {
        let scratch = Path::new("/tmp/render-x");
        let stderr =
            "walk.go:74: found symbolic link\nError: accumulating resources: \n  /tmp/render-x/overlay: no such file\n";
        assert_eq!(trim_message(stderr, scratch), "accumulating resources:; /overlay: no such file");
        assert_eq!(trim_message("   \n", scratch), "no error output");
        assert!(trim_message(&"x".repeat(5000), scratch).chars().count() <= MESSAGE_CAP + 1);
    }

    #[test]
    fn env_is_scrubbed_to_the_scratch_directory() {
        let env = scrubbed_env(Path::new("/s"));
        assert!(env.iter().all(|(k, _)| !k.contains("TOKEN") && *k != "KUBERNETES_SERVICE_HOST"));
        assert!(env.contains(&("HELM_CACHE_HOME", PathBuf::from("/s/helm/cache"))));
        assert!(env.contains(&("HOME", PathBuf::from("/s/home"))));
    }

    fn executable(dir: &Path, name: &str, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        file
    }

    #[test]
    fn programs_are_found_on_the_callers_path_and_missing_ones_name_the_flag() {
        let bin = tempfile::tempdir().unwrap();
        let tool = executable(bin.path(), "lockstep-test-kustomize", "echo v5");
        let search = Some(std::env::join_paths([Path::new("/nonexistent"), bin.path()]).unwrap());
        let found = resolve_program("kustomize", Path::new("lockstep-test-kustomize"), search.clone()).unwrap();
        assert_eq!(found, tool);
        assert_eq!(resolve_program("kustomize", &tool, None).unwrap(), tool);
        let err = resolve_program("kustomize", Path::new("no-such-kustomize"), search.clone()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not on PATH") && text.contains("--kustomize-path"), "{text}");
        let err = resolve_program("helm", &bin.path().join("helm"), search).unwrap_err();
        assert!(err.to_string().contains("--helm-path (LOCKSTEP_HELM)"), "{err}");
    }

    fn sh(script: &str, limits: &Limits) -> Result<Vec<u8>, RenderError> {
        let scratch = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(
            Invocation {
                tool: "sh",
                program: Path::new("/bin/sh"),
                args: vec!["-c".into(), script.into()],
                cwd: scratch.path(),
                scratch: scratch.path(),
            },
            limits,
        ))
    }

    #[test]
    fn runs_and_reports_failures_timeouts_and_oversized_output() {
        let limits = Limits { timeout: Duration::from_millis(500), max_output: 1000 };
        assert_eq!(sh("echo hi; test -z \"$SECRET_TOKEN\"", &limits).unwrap(), b"hi\n");
        let err = sh("echo 'Error: broken thing' >&2; exit 1", &limits).unwrap_err();
        assert!(matches!(&err, RenderError::Tool { message, .. } if message == "broken thing"), "{err}");
        assert!(matches!(sh("sleep 5", &limits), Err(RenderError::Timeout { .. })));
        assert!(matches!(sh("head -c 5000 /dev/zero", &limits), Err(RenderError::OutputTooLarge { .. })));
        assert!(sh("test \"$HOME\" != /root && test -d \"$HOME\"", &limits).is_ok());
    }
}
