//! A controller under measurement: started as a child process with its log in the run directory,
//! sampled through /proc (resident memory, its peak, CPU time) and stopped on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::process;

/// A running controller process.
pub struct Controller {
    child: Child,
    /// Its log file.
    pub log: PathBuf,
    name: String,
}

/// One reading of a process's resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Resident set size, MiB.
    pub rss_mib: f64,
    /// Peak resident set size since start (`VmHWM`), MiB.
    pub peak_rss_mib: f64,
    /// Anonymous resident memory (`RssAnon`: heap and stacks, not mapped files such as the
    /// binary or git packs), MiB.
    pub anon_rss_mib: f64,
    /// User plus system CPU time since start, seconds.
    pub cpu_secs: f64,
}

impl Controller {
    /// Starts `cmd` (program and arguments set) with its output appended to `log`.
    pub fn start(name: &str, mut cmd: Command, log: &Path) -> Result<Self> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone().context("duplicating the log file")?;
        let line = process::display(&cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}: {line}"))?;
        Ok(Self { child, log: log.to_owned(), name: name.to_owned() })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the log's tail if the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait().context("checking the controller")? {
            anyhow::bail!("{} exited with {status}:\n{}", self.name, process::tail(&self.log, 30));
        }
        Ok(())
    }

    /// Reads the process's current resource use.
    pub fn usage(&self) -> Result<Usage> {
        usage(self.pid())
    }
}

/// What a scenario needs of the system under measurement, one process or several.
pub trait Measured {
    /// Fails with a log tail if a process exited.
    fn check_alive(&mut self) -> Result<()>;
    /// Resource use now (summed over the processes).
    fn usage(&self) -> Result<Usage>;
    /// Where its logs are.
    fn logs(&self) -> String;
}

impl Measured for Controller {
    fn check_alive(&mut self) -> Result<()> {
        Controller::check_alive(self)
    }

    fn usage(&self) -> Result<Usage> {
        Controller::usage(self)
    }

    fn logs(&self) -> String {
        self.log.display().to_string()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid; no memory is involved.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resource use of process `pid` from /proc/PID/status and /proc/PID/stat.
pub fn usage(pid: u32) -> Result<Usage> {
    let status =
        fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    Ok(Usage {
        rss_mib: kib("VmRSS:") / 1024.0,
        peak_rss_mib: kib("VmHWM:") / 1024.0,
        anon_rss_mib: kib("RssAnon:") / 1024.0,
        cpu_secs: cpu_seconds(&stat),
    })
}

/// utime + stime of a /proc/PID/stat line, in seconds.
fn cpu_seconds(stat: &str) -> f64 {
    // Fields after the parenthesised command: state is field 3, utime 14 and stime 15 (1-based).
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    (ticks(11) + ticks(12)) / hz
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_usage() {
        let u = usage(std::process::id()).unwrap();
        assert!(u.rss_mib > 0.0 && u.peak_rss_mib >= u.rss_mib);
        assert!(u.anon_rss_mib > 0.0 && u.anon_rss_mib <= u.rss_mib);
        assert!(u.cpu_secs >= 0.0);
    }

    #[test]
    fn cpu_seconds_reads_utime_and_stime() {
        // pid (comm with spaces) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        let stat = "1 (a b) S 0 1 1 0 -1 0 0 0 0 0 250 150 0 0";
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert!((cpu_seconds(stat) - 400.0 / hz).abs() < 1e-9);
    }
}
