//! The results of a run: measurements, the Markdown table and the JSON file.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::machine::Machine;
use super::stats::Summary;

/// The floor scenario's name, which ratios refer to.
pub const FLOOR: &str = "1 floor";

/// One figure: the samples of one metric of one system in one case of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Scenario, e.g. `3 cold convergence`.
    pub scenario: String,
    /// Case within the scenario, e.g. `N=100`.
    pub case: String,
    /// What was measured.
    pub metric: String,
    /// Unit of the samples.
    pub unit: String,
    /// `floor`, `lockstep` or a peer's name.
    pub system: String,
    /// The raw samples, one per trial (or per sampling interval).
    pub samples: Vec<f64>,
    /// Median and spread of the samples.
    pub summary: Option<Summary>,
    /// The floor measurement (case, metric) this one is reported as a ratio to.
    pub floor: Option<(String, String)>,
}

impl Measurement {
    /// A measurement with its summary computed.
    pub fn new(scenario: &str, case: &str, metric: &str, unit: &str, system: &str, samples: Vec<f64>) -> Self {
        Self {
            scenario: scenario.into(),
            case: case.into(),
            metric: metric.into(),
            unit: unit.into(),
            system: system.into(),
            summary: Summary::of(&samples),
            samples,
            floor: None,
        }
    }

    /// Reports this measurement also as a ratio to the floor's `(case, metric)`.
    pub fn vs_floor(mut self, case: &str, metric: &str) -> Self {
        self.floor = Some((case.into(), metric.into()));
        self
    }
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `smoke` or `full` (or `partial` when scenarios were selected).
    pub mode: String,
    /// The machine and checkout.
    pub machine: Machine,
    /// The settings the run used (sizes, trials, durations, profile).
    pub settings: serde_json::Value,
    /// All figures, in the order measured.
    pub measurements: Vec<Measurement>,
    /// Notes: why a peer or scenario could not run, and other caveats.
    pub notes: Vec<String>,
}

impl Report {
    /// The floor's p50 for `(case, metric)`, if measured.
    fn floor_p50(&self, case: &str, metric: &str) -> Option<f64> {
        self.measurements
            .iter()
            .find(|m| m.scenario == FLOOR && m.case == case && m.metric == metric)
            .and_then(|m| m.summary.map(|s| s.p50))
    }

    /// A measurement's p50 as a ratio to its floor, or `—`.
    fn vs_floor(&self, x: &Measurement) -> String {
        let floor = x.floor.as_ref().and_then(|(case, metric)| self.floor_p50(case, metric)).filter(|f| *f > 0.0);
        match (x.summary, floor) {
            (Some(s), Some(f)) => format!("{:.2}", s.p50 / f),
            _ => "—".to_owned(),
        }
    }

    /// The Markdown rendering: machine facts, the table, the peer comparison and notes.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(out, "### lockstep benchmarks ({} run)\n", self.mode);
        let _ = writeln!(
            out,
            "- date: {} · commit: {} · machine: {} cores ({}), {:.1} GiB, kernel {} · load average (1 min) {:.2} at start, {:.2} at end\n",
            m.date, m.commit, m.cores, m.cpu, m.memory_gib, m.kernel, m.load_start, m.load_end
        );
        out.push_str("| scenario | case | metric | system | n | p50 | p90 | min | max | × floor |\n");
        out.push_str("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        // In scenario order; within a scenario, in the order measured (the sort is stable).
        let mut rows: Vec<&Measurement> = self.measurements.iter().collect();
        rows.sort_by(|a, b| a.scenario.cmp(&b.scenario));
        for x in rows {
            let Some(s) = x.summary else { continue };
            let ratio = self.vs_floor(x);
            let f = |v: f64| format_value(v, &x.unit);
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
                x.scenario,
                x.case,
                x.metric,
                x.unit,
                x.system,
                s.n,
                f(s.p50),
                f(s.p90),
                f(s.min),
                f(s.max),
                ratio
            );
        }
        let peers: Vec<&Measurement> =
            self.measurements.iter().filter(|x| x.system != "lockstep" && x.scenario != FLOOR).collect();
        if !peers.is_empty() {
            out.push_str(
                "\n| scenario | case | metric | lockstep p50 | peer | peer p50 | lockstep ÷ peer | lockstep × floor | peer × floor |\n",
            );
            out.push_str("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
            for p in peers {
                let ours = self.measurements.iter().find(|x| {
                    x.system == "lockstep" && x.scenario == p.scenario && x.case == p.case && x.metric == p.metric
                });
                let Some(ours) = ours else { continue };
                let (Some(our), Some(their)) = (ours.summary, p.summary) else { continue };
                let ratio = if their.p50 > 0.0 { format!("{:.2}", our.p50 / their.p50) } else { "—".into() };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} |",
                    p.scenario,
                    p.case,
                    p.metric,
                    p.unit,
                    format_value(our.p50, &p.unit),
                    p.system,
                    format_value(their.p50, &p.unit),
                    ratio,
                    self.vs_floor(ours),
                    self.vs_floor(p),
                );
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    /// Writes `<dir>/<stamp>.json` plus `latest.json` and `latest.md`; returns the JSON path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let stamp: String = self.machine.date.chars().filter(char::is_ascii_alphanumeric).collect();
        let json = serde_json::to_string_pretty(self).context("serialising the report")?;
        let path = dir.join(format!("{}-{stamp}.json", self.mode));
        for file in [&path, &dir.join("latest.json")] {
            fs::write(file, &json).with_context(|| format!("writing {}", file.display()))?;
        }
        let md = dir.join("latest.md");
        fs::write(&md, self.markdown()).with_context(|| format!("writing {}", md.display()))?;
        Ok(path)
    }
}

/// A value with a precision that suits its unit.
fn format_value(v: f64, unit: &str) -> String {
    match unit {
        "s" if v < 10.0 => format!("{v:.3}"),
        "s" => format!("{v:.1}"),
        "count" | "cycles" => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            date: "2026-01-01T00:00:00Z".into(),
            cpu: "cpu".into(),
            cores: 2,
            memory_gib: 24.0,
            kernel: "6".into(),
            commit: "abc".into(),
            load_start: 1.0,
            load_end: 2.0,
        }
    }

    #[test]
    fn markdown_has_ratios_to_floor_and_peer() {
        let report = Report {
            mode: "smoke".into(),
            machine: machine(),
            settings: serde_json::json!({}),
            measurements: vec![
                Measurement::new(FLOOR, "N=5", "apply all", "s", "floor", vec![1.0, 2.0]),
                Measurement::new("3 cold", "N=5", "all ready", "s", "lockstep", vec![3.0]).vs_floor("N=5", "apply all"),
                Measurement::new("3 cold", "N=5", "all ready", "s", "flux", vec![9.0]).vs_floor("N=5", "apply all"),
            ],
            notes: vec!["a note".into()],
        };
        let md = report.markdown();
        assert!(
            md.contains("| 3 cold | N=5 | all ready (s) | lockstep | 1 | 3.000 | 3.000 | 3.000 | 3.000 | 3.00 |"),
            "{md}"
        );
        assert!(md.contains("| 3 cold | N=5 | all ready (s) | 3.000 | flux | 9.000 | 0.33 | 3.00 | 9.00 |"), "{md}");
        assert!(md.contains("2 cores") && md.contains("- a note"));
    }
}
