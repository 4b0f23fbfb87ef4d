//! Facts about the machine and the checkout a run was measured on.

use std::fs;
use std::process::Command;

use serde::Serialize;

use crate::Workspace;
use crate::process;

/// What the report states beside the figures.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// UTC time the run started (RFC 3339).
    pub date: String,
    /// CPU model name.
    pub cpu: String,
    /// Logical cores available to us.
    pub cores: usize,
    /// Total memory in GiB.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// `git describe`-like commit of the checkout, `-dirty` when it has uncommitted changes.
    pub commit: String,
    /// 1-minute load average when the run started.
    pub load_start: f64,
    /// 1-minute load average when the run ended (filled in at the end).
    pub load_end: f64,
}

impl Machine {
    /// Reads the facts now.
    pub fn detect(ws: &Workspace) -> Self {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let memory_kib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        let git = |args: &[&str]| {
            process::output(Command::new("git").current_dir(&ws.root).args(args))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let mut commit = git(&["rev-parse", "--short=12", "HEAD"]);
        if !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
            commit.push_str("-dirty");
        }
        Self {
            date: process::output(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            cpu,
            cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default(),
            commit,
            load_start: load_average(),
            load_end: 0.0,
        }
    }
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}
