//! What a run does: the scenarios selected and their sizes, trial counts and durations.

use std::time::Duration;

use clap::ValueEnum;
use serde_json::json;

use super::BenchArgs;

/// A scenario that `--only` can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// 1: minimal concurrent server-side-apply client, no controller.
    Floor,
    /// 2: push webhook to change applied.
    Webhook,
    /// 3: N Applications from nothing to Synced and Healthy.
    Cold,
    /// 4: idle cost after convergence at the largest N.
    Idle,
    /// 5: drift correction with the largest N present.
    Drift,
    /// 6: repeated fetches of a changing repository.
    Soak,
    /// 8: one ApplicationSet generating the largest N Applications from git directories.
    Appset,
    /// 9: chains of three Applications, each depending on the one before (`spec.dependsOn`).
    Chains,
    /// 10: the web UI's list (`lockstep ui --local`) with the largest N Applications.
    Ui,
    /// 11: one Application of `--large-objects` objects (default 10,000).
    Large,
}

/// Sizes, trials and durations of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `smoke`, `full`, or `custom` when any count was overridden or scenarios selected.
    pub mode: String,
    /// Selected scenarios (empty: all).
    pub only: Vec<Scenario>,
    /// App counts for the floor and cold convergence.
    pub sizes: Vec<usize>,
    /// Trials of the floor and of cold convergence per size.
    pub trials: usize,
    /// Trials of webhook-to-applied and of drift.
    pub latency_trials: usize,
    /// Objects of the webhook scenario's app.
    pub webhook_objects: usize,
    /// The idle window.
    pub idle: Duration,
    /// Time allowed after convergence before idle is measured.
    pub settle: Duration,
    /// How often the idle window samples the controller's memory.
    pub sample_every: Duration,
    /// Fetch cycles of the git soak.
    pub soak_cycles: usize,
    /// Dependency chains (of three Applications) of scenario 9.
    pub chains: usize,
    /// Requests the floor client keeps in flight.
    pub floor_concurrency: usize,
    /// Objects of scenario 11's single app (a multiple of the four objects of a benchmark app).
    pub large_objects: usize,
    /// Cargo profile of the lockstep build.
    pub profile: String,
}

impl Plan {
    /// The plan for `cargo xtask bench` with these arguments.
    pub fn from_args(args: &BenchArgs) -> Self {
        let smoke = args.smoke;
        let customised = !args.only.is_empty()
            || !args.sizes.is_empty()
            || args.trials.is_some()
            || args.latency_trials.is_some()
            || args.idle_secs.is_some()
            || args.soak_cycles.is_some()
            || args.large_objects.is_some();
        let mode = match (smoke, customised) {
            (true, _) => "smoke",
            (false, true) => "custom",
            (false, false) => "full",
        };
        let mut sizes =
            if args.sizes.is_empty() { if smoke { vec![4] } else { vec![100, 500, 1000] } } else { args.sizes.clone() };
        sizes.retain(|n| *n > 0);
        sizes.sort_unstable();
        sizes.dedup();
        Self {
            mode: mode.into(),
            only: args.only.clone(),
            sizes,
            trials: args.trials.unwrap_or(if smoke { 1 } else { 3 }).max(1),
            latency_trials: args.latency_trials.unwrap_or(if smoke { 2 } else { 100 }).max(1),
            webhook_objects: if smoke { 5 } else { 50 },
            idle: Duration::from_secs(args.idle_secs.unwrap_or(if smoke { 4 } else { 300 })),
            settle: Duration::from_secs(if smoke { 1 } else { 30 }),
            sample_every: Duration::from_secs(if smoke { 1 } else { 5 }),
            soak_cycles: args.soak_cycles.unwrap_or(if smoke { 3 } else { 1000 }).max(1),
            chains: if smoke { 2 } else { 100 },
            floor_concurrency: 32,
            large_objects: args.large_objects.unwrap_or(if smoke { 40 } else { 10_000 }).max(4),
            profile: args.profile.clone().unwrap_or_else(|| if smoke { "dev" } else { "release" }.into()),
        }
    }

    /// Whether `scenario` is selected.
    pub fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }

    /// The largest size: idle and drift run with this many apps present.
    pub fn largest(&self) -> usize {
        self.sizes.last().copied().unwrap_or(1)
    }

    /// The settings as recorded in the report.
    pub fn settings(&self) -> serde_json::Value {
        json!({
            "only": self.only.iter().map(|s| format!("{s:?}").to_lowercase()).collect::<Vec<_>>(),
            "sizes": self.sizes,
            "trials": self.trials,
            "latency_trials": self.latency_trials,
            "webhook_objects": self.webhook_objects,
            "idle_secs": self.idle.as_secs(),
            "settle_secs": self.settle.as_secs(),
            "soak_cycles": self.soak_cycles,
            "chains": self.chains,
            "floor_concurrency": self.floor_concurrency,
            "large_objects": self.large_objects,
            "profile": self.profile,
        })
    }

    /// Caveats the report states up front.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.mode == "smoke" {
            notes.push("smoke run: exercises every code path with tiny sizes; the figures mean nothing".into());
        }
        if self.profile != "release" {
            notes.push(format!("lockstep built with the `{}` profile, not `release`", self.profile));
        }
        if self.runs(Scenario::Chains) {
            notes.push(
                "scenario 9: `lastTransitionTime` and `operationState.startedAt` have 1-second resolution (RFC 3339 \
                 seconds), so the status hop is a difference of truncated times (0 s means under a second, either way \
                 up to ±1 s); the watch hop (the bench's own watch of the Applications, timed on receipt) is the figure \
                 to read. lockstep records a sync operation when its pass ends, so the watch hop also holds the \
                 dependent's first sync pass (one ConfigMap applied)"
                    .into(),
            );
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_small_in_smoke_and_noted_only_when_run() {
        let mut args = BenchArgs::smoke();
        let smoke = Plan::from_args(&args);
        assert_eq!(smoke.chains, 2);
        assert!(smoke.notes().iter().any(|n| n.contains("1-second resolution")));
        args.smoke = false;
        args.only = vec![Scenario::Appset];
        let appset = Plan::from_args(&args);
        assert_eq!((appset.chains, appset.mode.as_str()), (100, "custom"));
        assert!(!appset.notes().iter().any(|n| n.contains("scenario 9")));
    }
}
