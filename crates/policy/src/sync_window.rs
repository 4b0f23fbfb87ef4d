//! Sync windows (`AppProject` `spec.syncWindows`), evaluated as Argo CD does: when an Application may
//! sync, automatically or by hand, and when that may next change. Pure: the caller passes the time.
//!
//! A window is open at `now` when some cron occurrence `t` of its schedule, read in its time zone,
//! has `t <= now < t + duration`. It applies to an Application when any `applications` glob matches
//! its name, any `namespaces` glob its destination namespace, or any `clusters` glob its destination
//! cluster's name or server (Argo's OR).
//!
//! Over the windows that apply, Argo CD's rule (`SyncWindows.CanSync`):
//! - an open deny window blocks automated syncs; it blocks manual ones unless every open deny
//!   window has `manualSync: true`;
//! - otherwise, when allow windows apply but none is open, automated syncs are blocked, and manual
//!   ones too unless any of those allow windows has `manualSync: true`;
//! - otherwise syncs may run.

use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use lockstep_api::{SyncWindow, SyncWindowKind};

use crate::project::glob_matches;

/// How far ahead window boundaries are searched; a block ending later reports no end.
pub const HORIZON: SignedDuration = SignedDuration::from_hours(366 * 24);
const HORIZON_DAYS: i64 = HORIZON.as_hours() / 24;

/// How many back-to-back occurrences of one window are chained when looking for its end, so a
/// window that is always open (`* * * * *` for `1m`) costs a bounded amount of work.
const MAX_CHAINED_OCCURRENCES: usize = 1000;

/// The Application a verdict is for, as sync windows see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowTarget<'a> {
    /// The Application's name.
    pub app: &'a str,
    /// Its destination namespace.
    pub namespace: &'a str,
    /// Its destination cluster's name.
    pub cluster_name: &'a str,
    /// Its destination cluster's API server URL.
    pub cluster_server: &'a str,
}

/// Whether an Application may sync at one instant, and when to look again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowVerdict {
    /// Automated syncs, self-heal and prune included.
    pub automated: Gate,
    /// Syncs a person asked for.
    pub manual: Gate,
    /// The earliest later instant at which a window that applies opens or closes, so the verdict
    /// may change; `None` when none does within [`HORIZON`].
    pub next_change: Option<Timestamp>,
}

/// Whether one kind of sync may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// It may.
    Open,
    /// A window blocks it.
    Blocked(Block),
}

/// Why a sync is blocked, for status conditions and Events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Whether an open deny window blocks, or the lack of an open allow window.
    pub reason: BlockReason,
    /// The window responsible, such as `deny window "0 22 * * *" (1h, Europe/Zurich)`: the open deny
    /// window that closes last, or the allow window that opens first.
    pub window: String,
    /// When the block ends as far as this reason goes; `None` when not within [`HORIZON`].
    pub until: Option<Timestamp>,
}

/// What blocks a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockReason {
    /// A deny window that applies is open.
    DenyWindowOpen,
    /// Allow windows apply and none of them is open.
    NoAllowWindowOpen,
}

impl Block {
    /// A sentence for a condition or an Event, such as `sync blocked by deny window "0 22 * * *"
    /// (1h, Europe/Zurich) until 2026-12-05T23:00:00Z`.
    pub fn message(&self) -> String {
        let Self { reason, window, until } = self;
        match (reason, until) {
            (BlockReason::DenyWindowOpen, Some(until)) => format!("sync blocked by {window} until {until}"),
            (BlockReason::DenyWindowOpen, None) => {
                format!("sync blocked by {window}, which stays open beyond the next {} days", HORIZON_DAYS)
            }
            (BlockReason::NoAllowWindowOpen, Some(until)) => {
                format!("sync blocked outside {window} until it opens at {until}")
            }
            (BlockReason::NoAllowWindowOpen, None) => {
                format!("sync blocked outside {window}, which does not open within the next {} days", HORIZON_DAYS)
            }
        }
    }
}

/// A sync window that cannot be evaluated; names it by its index in `spec.syncWindows`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("spec.syncWindows[{index}] (schedule {schedule:?}): {problem}")]
pub struct WindowError {
    /// Its index in `spec.syncWindows`.
    pub index: usize,
    /// Its schedule, as written.
    pub schedule: String,
    /// What is wrong.
    pub problem: WindowProblem,
}

/// What is wrong with a sync window.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WindowProblem {
    /// The schedule is not a five-field cron expression.
    #[error("invalid cron schedule: {0}")]
    Schedule(String),
    /// The duration does not parse, is not positive or exceeds the horizon.
    #[error("invalid duration {duration:?}: {reason}")]
    Duration {
        /// The duration, as written.
        duration: String,
        /// Why it is refused.
        reason: String,
    },
    /// The time zone is not in the IANA database (`/usr/share/zoneinfo`).
    #[error("unknown time zone {zone:?}: {reason}")]
    TimeZone {
        /// The time zone, as written.
        zone: String,
        /// What the lookup said.
        reason: String,
    },
    /// The schedule's occurrences could not be computed around the given time.
    #[error("cannot compute occurrences: {0}")]
    Occurrences(String),
}

/// Checks every window of a project: cron schedule, duration and time zone. The first bad window
/// is the error.
pub fn validate(windows: &[SyncWindow]) -> Result<(), WindowError> {
    windows.iter().enumerate().try_for_each(|(index, window)| Schedule::compile(index, window).map(drop))
}

/// Whether the Application `target` may sync at `now` under `windows` (see the module doc for the
/// rule). Any invalid window, whether or not it applies, is an error: the caller reports it.
pub fn verdict(
    windows: &[SyncWindow],
    target: &WindowTarget<'_>,
    now: Timestamp,
) -> Result<WindowVerdict, WindowError> {
    let schedules = windows
        .iter()
        .enumerate()
        .map(|(index, window)| Schedule::compile(index, window))
        .collect::<Result<Vec<_>, _>>()?;
    let mut states = Vec::new();
    for schedule in schedules.iter().filter(|s| applies(s.window, target)) {
        states.push((schedule, schedule.phase(now)?));
    }

    let next_change = states
        .iter()
        .filter_map(|(_, phase)| match *phase {
            Phase::Open { closes } => closes,
            Phase::Closed { opens } => opens,
        })
        .min();
    let open_denies: Vec<(&Schedule<'_>, Option<Timestamp>)> = states
        .iter()
        .filter(|(s, _)| s.window.kind == SyncWindowKind::Deny)
        .filter_map(|(s, phase)| match *phase {
            Phase::Open { closes } => Some((*s, closes)),
            Phase::Closed { .. } => None,
        })
        .collect();
    let allows: Vec<&(&Schedule<'_>, Phase)> =
        states.iter().filter(|(s, _)| s.window.kind == SyncWindowKind::Allow).collect();

    let (automated, manual) = if !open_denies.is_empty() {
        let manual_blockers: Vec<_> = open_denies.iter().copied().filter(|(s, _)| !s.window.manual_sync).collect();
        let manual = if manual_blockers.is_empty() { Gate::Open } else { Gate::Blocked(deny_block(&manual_blockers)) };
        (Gate::Blocked(deny_block(&open_denies)), manual)
    } else if !allows.is_empty() && !allows.iter().any(|(_, phase)| matches!(phase, Phase::Open { .. })) {
        let block = Gate::Blocked(allow_block(&allows));
        let manual = if allows.iter().any(|(s, _)| s.window.manual_sync) { Gate::Open } else { block.clone() };
        (block, manual)
    } else {
        (Gate::Open, Gate::Open)
    };
    Ok(WindowVerdict { automated, manual, next_change })
}

/// The block of the open deny window that closes last (never-closing ones last of all).
fn deny_block(open: &[(&Schedule<'_>, Option<Timestamp>)]) -> Block {
    let latest = open.iter().max_by_key(|(_, closes)| closes.map_or((1, Timestamp::MIN), |t| (0, t)));
    Block {
        reason: BlockReason::DenyWindowOpen,
        window: latest.map(|(s, _)| s.describe()).unwrap_or_default(),
        until: latest.and_then(|(_, closes)| *closes),
    }
}

/// The block while every applying allow window is closed: named after the one opening first.
fn allow_block(closed: &[&(&Schedule<'_>, Phase)]) -> Block {
    let opens = |phase: &Phase| match *phase {
        Phase::Closed { opens } => opens,
        Phase::Open { .. } => None,
    };
    let first = closed
        .iter()
        .min_by_key(|(_, phase)| opens(phase).map_or((1, Timestamp::MAX), |t| (0, t)))
        .map(|(s, phase)| (s, opens(phase)));
    Block {
        reason: BlockReason::NoAllowWindowOpen,
        window: first.map(|(s, _)| s.describe()).unwrap_or_default(),
        until: first.and_then(|(_, opens)| opens),
    }
}

/// Argo CD's matching: any application, namespace or cluster glob (OR).
fn applies(window: &SyncWindow, target: &WindowTarget<'_>) -> bool {
    window.applications.iter().any(|p| glob_matches(p, target.app))
        || window.namespaces.iter().any(|p| glob_matches(p, target.namespace))
        || window
            .clusters
            .iter()
            .any(|p| glob_matches(p, target.cluster_name) || glob_matches(p, target.cluster_server))
}

/// Where a window stands at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Open; closes then (back-to-back occurrences chained), `None` beyond the horizon.
    Open { closes: Option<Timestamp> },
    /// Closed; opens then, `None` beyond the horizon.
    Closed { opens: Option<Timestamp> },
}

/// A window with its schedule, duration and time zone parsed.
struct Schedule<'a> {
    index: usize,
    window: &'a SyncWindow,
    cron: Cron,
    duration: SignedDuration,
    zone: TimeZone,
}

impl<'a> Schedule<'a> {
    fn compile(index: usize, window: &'a SyncWindow) -> Result<Self, WindowError> {
        let error = |problem| WindowError { index, schedule: window.schedule.clone(), problem };
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&window.schedule)
            .map_err(|e| error(WindowProblem::Schedule(e.to_string())))?;
        let duration = parse_duration(&window.duration)
            .map_err(|reason| error(WindowProblem::Duration { duration: window.duration.clone(), reason }))?;
        let zone = match window.time_zone.as_deref().filter(|z| !z.is_empty()) {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name)
                .map_err(|e| error(WindowProblem::TimeZone { zone: name.to_string(), reason: e.to_string() }))?,
        };
        Ok(Self { index, window, cron, duration, zone })
    }

    /// `deny window "0 22 * * *" (1h, Europe/Zurich)`.
    fn describe(&self) -> String {
        let kind = match self.window.kind {
            SyncWindowKind::Allow => "allow",
            SyncWindowKind::Deny => "deny",
        };
        let zone = self.window.time_zone.as_deref().filter(|z| !z.is_empty()).unwrap_or("UTC");
        format!("{kind} window {:?} ({}, {zone})", self.window.schedule, self.window.duration)
    }

    /// Open when the first occurrence after `now - duration` is not after `now`.
    fn phase(&self, now: Timestamp) -> Result<Phase, WindowError> {
        let horizon = plus(now, HORIZON);
        let within = |t: Timestamp| Some(t).filter(|t| *t <= horizon);
        let Some(first) = self.next_after(minus(now, self.duration))? else {
            return Ok(Phase::Closed { opens: None });
        };
        if first > now {
            return Ok(Phase::Closed { opens: within(first) });
        }
        let mut closes = plus(first, self.duration);
        for _ in 0..MAX_CHAINED_OCCURRENCES {
            if closes > horizon {
                return Ok(Phase::Open { closes: None });
            }
            match self.latest_at_or_before(closes)? {
                Some(latest) if plus(latest, self.duration) > closes => closes = plus(latest, self.duration),
                _ => return Ok(Phase::Open { closes: Some(closes) }),
            }
        }
        Ok(Phase::Open { closes: None })
    }

    /// The first occurrence strictly after `t`; `None` if the schedule never fires again.
    fn next_after(&self, t: Timestamp) -> Result<Option<Timestamp>, WindowError> {
        self.occurrence(self.cron.find_next_occurrence(&t.to_zoned(self.zone.clone()), false))
    }

    /// The last occurrence at or before `t`.
    fn latest_at_or_before(&self, t: Timestamp) -> Result<Option<Timestamp>, WindowError> {
        self.occurrence(self.cron.find_previous_occurrence(&t.to_zoned(self.zone.clone()), true))
    }

    fn occurrence(&self, found: Result<Zoned, CronError>) -> Result<Option<Timestamp>, WindowError> {
        match found {
            Ok(zoned) => Ok(Some(zoned.timestamp())),
            Err(CronError::TimeSearchLimitExceeded) => Ok(None),
            Err(e) => Err(WindowError {
                index: self.index,
                schedule: self.window.schedule.clone(),
                problem: WindowProblem::Occurrences(e.to_string()),
            }),
        }
    }
}

/// A Go-style duration (`1h`, `30m`, `90s`, `1h30m`), as Argo CD's `time.ParseDuration`; jiff's
/// friendly format, a superset, also takes `1h 30m` and `2 hours`. Positive and within [`HORIZON`].
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let duration: SignedDuration = text.trim().parse().map_err(|e: jiff::Error| e.to_string())?;
    if !duration.is_positive() {
        return Err("must be positive".to_string());
    }
    if duration > HORIZON {
        return Err(format!("must not exceed {HORIZON_DAYS} days"));
    }
    Ok(duration)
}

/// `t + d`, saturating at the end of time (jiff's saturating arithmetic never fails for a
/// `SignedDuration`).
fn plus(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(Timestamp::MAX)
}

/// `t - d`, saturating at the start of time.
fn minus(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_sub(d).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
#[path = "sync_window_tests.rs"]
mod tests;
