//! Process helpers: running commands, detached background daemons, liveness
//! checks, process-group termination and free loopback ports.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Renders a command line for messages.
pub fn display(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs `cmd` with inherited stdio and fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    eprintln!("$ {line}");
    let status = cmd.status().with_context(|| format!("failed to start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed with {status}");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout if it exits successfully.
pub fn output(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("failed to start `{line}`"))?;
    if !out.status.success() {
        bail!("`{line}` failed with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts `program` as a daemon that outlives us: in a new session (so its
/// own process group, with pgid = pid, and no controlling terminal), stdin
/// from /dev/null, stdout and stderr appended to `log`.
pub fn spawn_detached<I, S>(program: &Path, args: I, log: &Path) -> Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    detach(cmd, log)
}

/// Starts a prepared command (arguments, environment) as a daemon, as [`spawn_detached`] does.
pub fn detach(mut cmd: Command, log: &Path) -> Result<Child> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening log file {}", log.display()))?;
    let err = out.try_clone().with_context(|| format!("duplicating log file {}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid(2) is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let program = cmd.get_program().to_owned();
    cmd.spawn().with_context(|| format!("starting {}", Path::new(&program).display()))
}

/// True if `pid` is a live (not zombie) process whose argv\[0\] is `program`.
///
/// Checking the program guards against a recycled pid after a reboot.
pub fn is_alive(pid: u32, program: &Path) -> bool {
    let proc_dir = Path::new("/proc").join(pid.to_string());
    let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    if argv0 != program.as_os_str().as_encoded_bytes() {
        return false;
    }
    match fs::read_to_string(proc_dir.join("stat")) {
        // The state follows the parenthesised command name: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `signal` to the process group led by `pid`.
fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// A daemon recorded by pid and program path.
#[derive(Debug, Clone, Copy)]
pub struct Daemon<'a> {
    /// Short component name for messages.
    pub name: &'a str,
    /// Process id, also its process group id.
    pub pid: u32,
    /// Absolute path the daemon was started from.
    pub program: &'a Path,
}

/// Stops the process groups of the given daemons that are still alive:
/// SIGTERM, then SIGKILL for whatever remains after `grace`.
pub fn terminate(daemons: &[Daemon<'_>], grace: Duration) {
    let alive: Vec<_> = daemons.iter().filter(|d| is_alive(d.pid, d.program)).collect();
    if alive.is_empty() {
        return;
    }
    for d in &alive {
        eprintln!("stopping {} (pid {})", d.name, d.pid);
        signal_group(d.pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && alive.iter().any(|d| is_alive(d.pid, d.program)) {
        sleep(Duration::from_millis(100));
    }
    for d in alive.iter().filter(|d| is_alive(d.pid, d.program)) {
        eprintln!("killing {} (pid {})", d.name, d.pid);
        signal_group(d.pid, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && alive.iter().any(|d| is_alive(d.pid, d.program)) {
        sleep(Duration::from_millis(50));
    }
}

/// Lowest port [`free_ports`] considers.
const PORT_FLOOR: u16 = 10_000;

/// Picks `n` distinct free TCP ports on 127.0.0.1, each checked by binding it.
///
/// Ports are drawn at random from below the kernel's ephemeral range, so that
/// neither outgoing connections nor servers binding port 0 (as tests do) can
/// take one before its daemon binds it; if that range is too small or busy,
/// the kernel picks (bind port 0).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let mut listeners: Vec<TcpListener> = Vec::with_capacity(n);
    if let Some(span) = ephemeral_low.checked_sub(PORT_FLOOR).filter(|span| *span >= 1_000) {
        let mut rng = seed();
        for _ in 0..200 {
            if listeners.len() == n {
                break;
            }
            rng = xorshift(rng);
            let port = PORT_FLOOR + u16::try_from(rng % u64::from(span)).expect("below span");
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
                listeners.push(listener);
            }
        }
    }
    while listeners.len() < n {
        listeners.push(TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?);
    }
    listeners.iter().map(|l| Ok(l.local_addr().context("reading a bound port")?.port())).collect()
}

/// A per-call random seed from std's randomly keyed hasher.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish() | 1
}

/// One step of xorshift64.
fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// The last `lines` lines of a (log) file, or a note if it cannot be read.
pub fn tail(path: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 64 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Formats a duration as seconds with one decimal.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(5).unwrap();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
        assert!(ports.iter().all(|p| *p >= PORT_FLOOR));
    }

    #[test]
    fn own_process_is_alive_and_wrong_program_is_not() {
        let me = std::process::id();
        let argv0 = fs::read(format!("/proc/{me}/cmdline")).unwrap();
        let argv0 = argv0.split(|b| *b == 0).next().unwrap().to_vec();
        let program = std::path::PathBuf::from(String::from_utf8(argv0).unwrap());
        assert!(is_alive(me, &program));
        assert!(!is_alive(me, Path::new("/nonexistent/program")));
        assert!(!is_alive(u32::MAX - 1, &program));
    }

    #[test]
    fn detached_daemon_gets_its_own_group_and_is_terminated() {
        let dir = std::env::temp_dir().join(format!("xtask-proc-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sleep.log");
        let sleep_bin = Path::new("/bin/sleep");
        let mut child = spawn_detached(sleep_bin, ["30"], &log).unwrap();
        let pid = child.id();
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        // fields: state, ppid, pgrp, session
        assert_eq!(fields[2], pid.to_string(), "own process group");
        assert_eq!(fields[3], pid.to_string(), "own session");
        assert!(is_alive(pid, sleep_bin));
        let daemon = Daemon { name: "sleep", pid, program: sleep_bin };
        terminate(&[daemon], Duration::from_secs(5));
        // We are the parent, so reap it; it must have died of SIGTERM.
        let status = child.wait().unwrap();
        assert!(!status.success());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tail_returns_last_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-tail-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("log");
        fs::write(&file, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&file, 2), "c\nd");
        assert_eq!(tail(&file, 10), "a\nb\nc\nd");
        fs::remove_dir_all(&dir).unwrap();
    }
}
