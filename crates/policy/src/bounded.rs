//! Keeping an Application's status small however many objects it manages: pure.
//!
//! The API server refuses objects over about 1.5 MiB, and every status write costs in proportion to
//! its size. `status.resources` therefore lists at most [`LISTED_RESOURCES`] objects; when there are
//! more, the ones that are not Synced or not Healthy come first, and `status.summary` counts them all.

use lockstep_api::{ApplicationStatus, HealthStatusCode, ResourceStatus, ResourceSummary, SyncStatusCode};

/// How many objects `status.resources` lists at most (about 150 bytes each).
pub const LISTED_RESOURCES: usize = 500;

/// Counts every object, then caps `status.resources`. For a status that was not built from a fresh
/// comparison (`compared` false), the resources are the previous, already bounded ones: the previous
/// summary is kept.
pub fn bound(status: &mut ApplicationStatus, previous: Option<&ApplicationStatus>, compared: bool) {
    if !compared {
        status.summary = previous.and_then(|p| p.summary.clone());
        return;
    }
    let resources = std::mem::take(&mut status.resources);
    let (listed, summary) = listed(resources, LISTED_RESOURCES);
    status.resources = listed;
    status.summary = Some(summary);
}

/// At most `limit` of `all` (problems first, each group in its original order) and the totals.
pub fn listed(all: Vec<ResourceStatus>, limit: usize) -> (Vec<ResourceStatus>, ResourceSummary) {
    let count = |pred: &dyn Fn(&ResourceStatus) -> bool| {
        i64::try_from(all.iter().filter(|r| pred(r)).count()).unwrap_or(i64::MAX)
    };
    let mut summary = ResourceSummary {
        total: i64::try_from(all.len()).unwrap_or(i64::MAX),
        synced: count(&|r| r.status == SyncStatusCode::Synced),
        out_of_sync: count(&|r| r.status != SyncStatusCode::Synced),
        healthy: count(&|r| healthy(r)),
        unhealthy: count(&|r| !healthy(r)),
        omitted: 0,
    };
    if all.len() <= limit {
        return (all, summary);
    }
    let (mut listed, fine): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|r| r.status != SyncStatusCode::Synced || !healthy(r));
    listed.truncate(limit);
    let room = limit - listed.len();
    listed.extend(fine.into_iter().take(room));
    summary.omitted = summary.total - i64::try_from(listed.len()).unwrap_or(i64::MAX);
    (listed, summary)
}

fn healthy(resource: &ResourceStatus) -> bool {
    resource.health.as_ref().is_some_and(|h| h.status == HealthStatusCode::Healthy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::HealthStatus;

    fn resource(name: String, sync: SyncStatusCode, health: HealthStatusCode) -> ResourceStatus {
        ResourceStatus {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("apps".into()),
            name,
            status: sync,
            health: Some(HealthStatus { status: health, message: None }),
            ..Default::default()
        }
    }

    fn many(n: usize) -> Vec<ResourceStatus> {
        (0..n).map(|i| resource(format!("cm-{i:05}"), SyncStatusCode::Synced, HealthStatusCode::Healthy)).collect()
    }

    #[test]
    fn a_small_list_is_kept_whole_and_in_order() {
        let mut all = many(3);
        all[1].status = SyncStatusCode::OutOfSync;
        let (listed, summary) = listed(all.clone(), 10);
        assert_eq!(listed, all);
        assert_eq!(
            (summary.total, summary.synced, summary.out_of_sync, summary.healthy, summary.omitted),
            (3, 2, 1, 3, 0)
        );
    }

    #[test]
    fn a_large_list_is_capped_with_problems_first() {
        let mut all = many(5000);
        all[4000].status = SyncStatusCode::OutOfSync;
        all[4500].health = Some(HealthStatus { status: HealthStatusCode::Degraded, message: Some("bad".into()) });
        let (listed, summary) = listed(all, LISTED_RESOURCES);
        assert_eq!(listed.len(), LISTED_RESOURCES);
        assert_eq!(
            (listed[0].name.as_str(), listed[1].name.as_str(), listed[2].name.as_str()),
            ("cm-04000", "cm-04500", "cm-00000")
        );
        assert_eq!((summary.total, summary.out_of_sync, summary.unhealthy, summary.omitted), (5000, 1, 1, 4500));
    }

    #[test]
    fn five_thousand_objects_fit_well_under_the_size_limit() {
        let mut status = ApplicationStatus { resources: many(5000), ..Default::default() };
        bound(&mut status, None, true);
        let size = serde_json::to_vec(&status).map(|v| v.len()).unwrap_or(usize::MAX);
        assert!(size < 100 * 1024, "{size} bytes");
        assert_eq!(status.summary.as_ref().map(|s| s.total), Some(5000));
    }

    #[test]
    fn a_stopped_pass_keeps_the_previous_summary() {
        let mut previous = ApplicationStatus { resources: many(600), ..Default::default() };
        bound(&mut previous, None, true);
        let mut next = ApplicationStatus { resources: previous.resources.clone(), ..Default::default() };
        bound(&mut next, Some(&previous), false);
        assert_eq!(next.summary, previous.summary);
        assert_eq!(next.resources.len(), LISTED_RESOURCES);
    }
}
