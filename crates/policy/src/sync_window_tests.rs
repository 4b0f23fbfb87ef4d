use super::*;

const TARGET: WindowTarget<'static> = WindowTarget {
    app: "prod-web",
    namespace: "shop-prod",
    cluster_name: "eu-west",
    cluster_server: "https://10.0.0.1:6443",
};

fn at(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

fn window(kind: SyncWindowKind, schedule: &str, duration: &str) -> SyncWindow {
    SyncWindow {
        kind,
        schedule: schedule.to_string(),
        duration: duration.to_string(),
        applications: vec!["*".to_string()],
        namespaces: Vec::new(),
        clusters: Vec::new(),
        manual_sync: false,
        time_zone: None,
    }
}

fn deny(schedule: &str, duration: &str) -> SyncWindow {
    window(SyncWindowKind::Deny, schedule, duration)
}

fn allow(schedule: &str, duration: &str) -> SyncWindow {
    window(SyncWindowKind::Allow, schedule, duration)
}

fn manual(mut w: SyncWindow) -> SyncWindow {
    w.manual_sync = true;
    w
}

fn in_zone(mut w: SyncWindow, zone: &str) -> SyncWindow {
    w.time_zone = Some(zone.to_string());
    w
}

fn selecting(mut w: SyncWindow, applications: &[&str], namespaces: &[&str], clusters: &[&str]) -> SyncWindow {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    w.applications = own(applications);
    w.namespaces = own(namespaces);
    w.clusters = own(clusters);
    w
}

fn judge(windows: &[SyncWindow], now: &str) -> WindowVerdict {
    verdict(windows, &TARGET, at(now)).expect("valid windows")
}

fn blocked(reason: BlockReason, window: &str, until: Option<&str>) -> Gate {
    Gate::Blocked(Block { reason, window: window.to_string(), until: until.map(at) })
}

fn denied(window: &str, until: &str) -> Gate {
    blocked(BlockReason::DenyWindowOpen, window, Some(until))
}

fn outside(window: &str, opens: &str) -> Gate {
    blocked(BlockReason::NoAllowWindowOpen, window, Some(opens))
}

const DENY_22: &str = r#"deny window "0 22 * * *" (1h, UTC)"#;
const ALLOW_22: &str = r#"allow window "0 22 * * *" (1h, UTC)"#;

#[test]
fn no_window_lets_everything_sync() {
    let v = judge(&[], "2026-12-05T22:30:00Z");
    assert_eq!(v, WindowVerdict { automated: Gate::Open, manual: Gate::Open, next_change: None });
}

#[test]
fn open_deny_window_blocks_both_until_it_closes() {
    let v = judge(&[deny("0 22 * * *", "1h")], "2026-12-05T22:30:00Z");
    assert_eq!(v.automated, denied(DENY_22, "2026-12-05T23:00:00Z"));
    assert_eq!(v.manual, v.automated);
    assert_eq!(v.next_change, Some(at("2026-12-05T23:00:00Z")));
}

#[test]
fn closed_deny_window_lets_syncs_run_and_names_its_opening() {
    let v = judge(&[deny("0 22 * * *", "1h")], "2026-12-05T21:00:00Z");
    assert_eq!((v.automated, v.manual), (Gate::Open, Gate::Open));
    assert_eq!(v.next_change, Some(at("2026-12-05T22:00:00Z")));
}

#[test]
fn a_window_opens_at_its_start_and_is_closed_at_its_end() {
    let windows = [deny("0 22 * * *", "1h")];
    assert_eq!(judge(&windows, "2026-12-05T22:00:00Z").automated, denied(DENY_22, "2026-12-05T23:00:00Z"));
    let at_end = judge(&windows, "2026-12-05T23:00:00Z");
    assert_eq!(at_end.automated, Gate::Open);
    assert_eq!(at_end.next_change, Some(at("2026-12-06T22:00:00Z")));
}

#[test]
fn outside_every_allow_window_syncs_wait_for_the_next_opening() {
    let v = judge(&[allow("0 22 * * *", "1h")], "2026-12-05T12:00:00Z");
    assert_eq!(v.automated, outside(ALLOW_22, "2026-12-05T22:00:00Z"));
    assert_eq!(v.manual, v.automated);
    assert_eq!(v.next_change, Some(at("2026-12-05T22:00:00Z")));
}

#[test]
fn inside_an_allow_window_syncs_run_until_it_closes() {
    let v = judge(&[allow("0 22 * * *", "1h")], "2026-12-05T22:15:00Z");
    assert_eq!((v.automated, v.manual), (Gate::Open, Gate::Open));
    assert_eq!(v.next_change, Some(at("2026-12-05T23:00:00Z")));
}

#[test]
fn one_open_allow_window_is_enough() {
    let windows = [allow("0 6 * * *", "1h"), allow("0 22 * * *", "1h")];
    assert_eq!(judge(&windows, "2026-12-05T22:15:00Z").automated, Gate::Open);
}

#[test]
fn a_closed_block_names_the_allow_window_opening_first() {
    let windows = [allow("0 6 * * *", "1h"), allow("0 22 * * *", "1h")];
    let v = judge(&windows, "2026-12-05T12:00:00Z");
    assert_eq!(v.automated, outside(ALLOW_22, "2026-12-05T22:00:00Z"));
}

#[test]
fn an_open_deny_window_wins_over_an_open_allow_window() {
    let windows = [allow("0 20 * * *", "4h"), deny("0 22 * * *", "1h")];
    let v = judge(&windows, "2026-12-05T22:30:00Z");
    assert_eq!(v.automated, denied(DENY_22, "2026-12-05T23:00:00Z"));
    assert_eq!(v.next_change, Some(at("2026-12-05T23:00:00Z")));
    let after = judge(&windows, "2026-12-05T23:00:00Z");
    assert_eq!(after.automated, Gate::Open);
    assert_eq!(after.next_change, Some(at("2026-12-06T00:00:00Z")));
}

#[test]
fn manual_sync_on_a_deny_window_lets_manual_syncs_through() {
    let v = judge(&[manual(deny("0 22 * * *", "1h"))], "2026-12-05T22:30:00Z");
    assert_eq!(v.automated, denied(DENY_22, "2026-12-05T23:00:00Z"));
    assert_eq!(v.manual, Gate::Open);
}

#[test]
fn manual_syncs_wait_for_every_open_deny_window_without_manual_sync() {
    let windows = [manual(deny("0 22 * * *", "2h")), deny("30 22 * * *", "1h")];
    let v = judge(&windows, "2026-12-05T22:45:00Z");
    assert_eq!(v.automated, denied(r#"deny window "0 22 * * *" (2h, UTC)"#, "2026-12-06T00:00:00Z"));
    assert_eq!(v.manual, denied(r#"deny window "30 22 * * *" (1h, UTC)"#, "2026-12-05T23:30:00Z"));
    assert_eq!(v.next_change, Some(at("2026-12-05T23:30:00Z")));
}

#[test]
fn manual_sync_on_an_allow_window_lets_manual_syncs_through_while_it_is_closed() {
    let windows = [allow("0 6 * * *", "1h"), manual(allow("0 22 * * *", "1h"))];
    let v = judge(&windows, "2026-12-05T12:00:00Z");
    assert_eq!(v.automated, outside(ALLOW_22, "2026-12-05T22:00:00Z"));
    assert_eq!(v.manual, Gate::Open);
}

#[test]
fn an_open_deny_window_decides_manual_syncs_over_closed_allow_windows() {
    // Argo CD's CanSync: with a deny window open, only its manualSync counts.
    let windows = [allow("0 6 * * *", "1h"), manual(deny("0 22 * * *", "1h"))];
    let v = judge(&windows, "2026-12-05T22:30:00Z");
    assert_eq!(v.automated, denied(DENY_22, "2026-12-05T23:00:00Z"));
    assert_eq!(v.manual, Gate::Open);
}

#[test]
fn application_globs_select_by_name() {
    let only = |apps: &[&str]| [selecting(deny("0 22 * * *", "1h"), apps, &[], &[])];
    assert_ne!(judge(&only(&["prod-*"]), "2026-12-05T22:30:00Z").automated, Gate::Open);
    let other = judge(&only(&["dev-*"]), "2026-12-05T22:30:00Z");
    assert_eq!(other, WindowVerdict { automated: Gate::Open, manual: Gate::Open, next_change: None });
}

#[test]
fn namespace_globs_select_by_destination_namespace() {
    let only = |namespaces: &[&str]| [selecting(deny("0 22 * * *", "1h"), &[], namespaces, &[])];
    assert_ne!(judge(&only(&["*-prod"]), "2026-12-05T22:30:00Z").automated, Gate::Open);
    assert_eq!(judge(&only(&["*-dev"]), "2026-12-05T22:30:00Z").automated, Gate::Open);
}

#[test]
fn cluster_globs_select_by_name_or_server() {
    let only = |clusters: &[&str]| [selecting(deny("0 22 * * *", "1h"), &[], &[], clusters)];
    assert_ne!(judge(&only(&["eu-*"]), "2026-12-05T22:30:00Z").automated, Gate::Open);
    assert_ne!(judge(&only(&["https://10.*"]), "2026-12-05T22:30:00Z").automated, Gate::Open);
    assert_eq!(judge(&only(&["us-*", "https://192.*"]), "2026-12-05T22:30:00Z").automated, Gate::Open);
}

#[test]
fn selectors_are_ored_and_a_window_without_selectors_applies_to_nothing() {
    let either = [selecting(deny("0 22 * * *", "1h"), &["dev-*"], &["*-prod"], &["us-*"])];
    assert_ne!(judge(&either, "2026-12-05T22:30:00Z").automated, Gate::Open);
    let none = [selecting(deny("0 22 * * *", "1h"), &[], &[], &[])];
    assert_eq!(judge(&none, "2026-12-05T22:30:00Z").automated, Gate::Open);
}

#[test]
fn an_allow_window_for_other_applications_does_not_block() {
    let windows = [selecting(allow("0 22 * * *", "1h"), &["dev-*"], &[], &[])];
    assert_eq!(judge(&windows, "2026-12-05T12:00:00Z").automated, Gate::Open);
}

#[test]
fn the_time_zone_shifts_the_window_with_daylight_saving() {
    let windows = [in_zone(deny("0 22 * * *", "1h"), "Europe/Zurich")];
    let zurich = r#"deny window "0 22 * * *" (1h, Europe/Zurich)"#;
    // December: CET, UTC+1.
    assert_eq!(judge(&windows, "2026-12-05T21:30:00Z").automated, denied(zurich, "2026-12-05T22:00:00Z"));
    assert_eq!(judge(&windows, "2026-12-05T22:30:00Z").automated, Gate::Open);
    // July: CEST, UTC+2.
    assert_eq!(judge(&windows, "2026-07-05T20:30:00Z").automated, denied(zurich, "2026-07-05T21:00:00Z"));
    assert_eq!(judge(&windows, "2026-07-05T21:30:00Z").next_change, Some(at("2026-07-06T20:00:00Z")));
}

#[test]
fn a_compound_duration_sets_the_close() {
    let windows = [deny("0 22 * * *", "1h30m")];
    let described = r#"deny window "0 22 * * *" (1h30m, UTC)"#;
    assert_eq!(judge(&windows, "2026-12-05T23:15:00Z").automated, denied(described, "2026-12-05T23:30:00Z"));
    assert_eq!(judge(&windows, "2026-12-05T23:30:00Z").automated, Gate::Open);
}

#[test]
fn a_window_spanning_midnight_stays_open_the_next_day() {
    let v = judge(&[deny("0 23 * * *", "2h")], "2026-12-06T00:30:00Z");
    assert_eq!(v.automated, denied(r#"deny window "0 23 * * *" (2h, UTC)"#, "2026-12-06T01:00:00Z"));
    assert_eq!(v.next_change, Some(at("2026-12-06T01:00:00Z")));
}

#[test]
fn back_to_back_occurrences_close_at_the_end_of_the_last() {
    let v = judge(&[deny("0 22,23 * * *", "1h")], "2026-12-05T22:30:00Z");
    assert_eq!(v.automated, denied(r#"deny window "0 22,23 * * *" (1h, UTC)"#, "2026-12-06T00:00:00Z"));
    assert_eq!(v.next_change, Some(at("2026-12-06T00:00:00Z")));
}

#[test]
fn overlapping_deny_windows_block_until_the_last_closes() {
    let windows = [deny("0 22 * * *", "1h"), deny("30 22 * * *", "1h")];
    let v = judge(&windows, "2026-12-05T22:45:00Z");
    assert_eq!(v.automated, denied(r#"deny window "30 22 * * *" (1h, UTC)"#, "2026-12-05T23:30:00Z"));
    assert_eq!(v.next_change, Some(at("2026-12-05T23:00:00Z")));
}

#[test]
fn a_window_that_never_closes_has_no_end_within_the_horizon() {
    let v = judge(&[deny("0 * * * *", "2h")], "2026-12-05T22:30:00Z");
    assert_eq!(v.automated, blocked(BlockReason::DenyWindowOpen, r#"deny window "0 * * * *" (2h, UTC)"#, None));
    assert_eq!(v.next_change, None);
    let dense = judge(&[deny("* * * * *", "1m")], "2026-12-05T22:30:00Z");
    assert_eq!(dense.automated, blocked(BlockReason::DenyWindowOpen, r#"deny window "* * * * *" (1m, UTC)"#, None));
}

#[test]
fn an_allow_window_that_never_opens_blocks_without_end() {
    let v = judge(&[allow("0 0 30 2 *", "1h")], "2026-12-05T12:00:00Z");
    assert_eq!(v.automated, blocked(BlockReason::NoAllowWindowOpen, r#"allow window "0 0 30 2 *" (1h, UTC)"#, None));
    assert_eq!(v.next_change, None);
}

#[test]
fn an_opening_beyond_the_horizon_is_not_reported() {
    let v = judge(&[allow("0 0 29 2 *", "1h")], "2026-12-05T12:00:00Z");
    assert_eq!(v.automated, blocked(BlockReason::NoAllowWindowOpen, r#"allow window "0 0 29 2 *" (1h, UTC)"#, None));
    let leap = judge(&[allow("0 0 29 2 *", "1h")], "2027-12-05T12:00:00Z");
    assert_eq!(leap.next_change, Some(at("2028-02-29T00:00:00Z")));
}

#[test]
fn messages_name_the_window_and_the_end() {
    let deny_until =
        Block { reason: BlockReason::DenyWindowOpen, window: DENY_22.into(), until: Some(at("2026-12-05T23:00:00Z")) };
    assert_eq!(
        deny_until.message(),
        r#"sync blocked by deny window "0 22 * * *" (1h, UTC) until 2026-12-05T23:00:00Z"#
    );
    let deny_forever = Block { until: None, ..deny_until };
    assert_eq!(
        deny_forever.message(),
        r#"sync blocked by deny window "0 22 * * *" (1h, UTC), which stays open beyond the next 366 days"#
    );
    let allow_at = Block {
        reason: BlockReason::NoAllowWindowOpen,
        window: ALLOW_22.into(),
        until: Some(at("2026-12-05T22:00:00Z")),
    };
    assert_eq!(
        allow_at.message(),
        r#"sync blocked outside allow window "0 22 * * *" (1h, UTC) until it opens at 2026-12-05T22:00:00Z"#
    );
    let allow_never = Block { until: None, ..allow_at };
    assert_eq!(
        allow_never.message(),
        r#"sync blocked outside allow window "0 22 * * *" (1h, UTC), which does not open within the next 366 days"#
    );
}

#[test]
fn durations_parse_as_go_writes_them() {
    assert_eq!(parse_duration("1h30m"), Ok(SignedDuration::from_mins(90)));
    assert_eq!(parse_duration("30m"), Ok(SignedDuration::from_mins(30)));
    assert_eq!(parse_duration("90s"), Ok(SignedDuration::from_secs(90)));
    assert_eq!(parse_duration("1h"), Ok(SignedDuration::from_hours(1)));
    for bad in ["", "1x", "abc", "0s", "-1h", "9000h"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
    }
}

fn problem_of(windows: &[SyncWindow]) -> WindowError {
    let err = validate(windows).expect_err("invalid window");
    assert_eq!(verdict(windows, &TARGET, at("2026-12-05T12:00:00Z")).expect_err("verdict fails too"), err);
    err
}

#[test]
fn an_invalid_cron_schedule_is_an_error_naming_the_window() {
    let err = problem_of(&[deny("0 22 * * *", "1h"), deny("61 * * * *", "1h")]);
    assert_eq!((err.index, err.schedule.as_str()), (1, "61 * * * *"));
    assert!(matches!(err.problem, WindowProblem::Schedule(_)));
    assert!(
        err.to_string().starts_with(r#"spec.syncWindows[1] (schedule "61 * * * *"): invalid cron schedule"#),
        "{err}"
    );
    let seconds = problem_of(&[deny("0 0 22 * * *", "1h")]);
    assert!(matches!(seconds.problem, WindowProblem::Schedule(_)), "six fields accepted: {seconds}");
}

#[test]
fn an_invalid_duration_is_an_error_naming_the_window() {
    let err = problem_of(&[deny("0 22 * * *", "1 fortnight")]);
    assert_eq!(err.index, 0);
    assert!(matches!(&err.problem, WindowProblem::Duration { duration, .. } if duration == "1 fortnight"), "{err}");
}

#[test]
fn an_unknown_time_zone_is_an_error_naming_the_window() {
    let err = problem_of(&[in_zone(deny("0 22 * * *", "1h"), "Mars/Olympus_Mons")]);
    assert!(matches!(&err.problem, WindowProblem::TimeZone { zone, .. } if zone == "Mars/Olympus_Mons"), "{err}");
}

#[test]
fn an_invalid_window_fails_even_for_applications_it_does_not_select() {
    let windows = [selecting(deny("bad", "1h"), &["dev-*"], &[], &[])];
    assert!(verdict(&windows, &TARGET, at("2026-12-05T12:00:00Z")).is_err());
}

#[test]
fn valid_windows_validate() {
    let windows = [in_zone(manual(allow("0 22 * * 1-5", "1h30m")), "Europe/Zurich"), deny("@daily", "1h")];
    assert_eq!(validate(&windows), Ok(()));
}
