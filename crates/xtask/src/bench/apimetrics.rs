//! The API server's own request counter, `apiserver_request_total`, read from its /metrics.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::Result;

use crate::cluster::Cluster;
use crate::process;

/// Request counts by verb (`GET`, `LIST`, `WATCH`, `APPLY`, `PATCH`, …); dry-run requests are
/// counted under `<VERB> (dry-run)`.
pub type Counts = BTreeMap<String, f64>;

/// Reads the counter now, summed by verb over every resource and response code.
pub fn read(cluster: &Cluster) -> Result<Counts> {
    let text = process::output(
        Command::new(&cluster.kubectl).arg("--kubeconfig").arg(&cluster.kubeconfig).args(["get", "--raw", "/metrics"]),
    )?;
    Ok(parse(&text))
}

/// Sums `apiserver_request_total` samples by verb.
pub fn parse(text: &str) -> Counts {
    let mut counts = Counts::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let label = |name: &str| {
            let key = format!("{name}=\"");
            labels.split(&key).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("").to_owned()
        };
        let mut verb = label("verb");
        if !label("dry_run").is_empty() {
            verb.push_str(" (dry-run)");
        }
        *counts.entry(verb).or_default() += value;
    }
    counts
}

/// Per-verb increase from `before` to `after`.
pub fn delta(before: &Counts, after: &Counts) -> Counts {
    after.iter().map(|(verb, v)| (verb.clone(), (v - before.get(verb).copied().unwrap_or(0.0)).max(0.0))).collect()
}

/// Whether a verb (as [`parse`] names it) writes.
pub fn is_write(verb: &str) -> bool {
    matches!(verb, "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_by_verb_and_separates_dry_runs() {
        let text = r#"# HELP apiserver_request_total x
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",verb="LIST",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",verb="LIST",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="",resource="services",verb="APPLY",version="v1"} 5
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="services",verb="APPLY",version="v1"} 1
apiserver_request_duration_seconds_count{verb="LIST"} 9
"#;
        let counts = parse(text);
        assert_eq!(counts.get("LIST"), Some(&5.0));
        assert_eq!(counts.get("APPLY (dry-run)"), Some(&5.0));
        assert_eq!(counts.get("APPLY"), Some(&1.0));
        let later = parse(&text.replace("} 3", "} 10"));
        assert_eq!(delta(&counts, &later).get("LIST"), Some(&7.0));
        assert!(is_write("APPLY") && !is_write("APPLY (dry-run)") && !is_write("WATCH"));
    }
}
