//! lockstep's own count of its API requests (`lockstep_kube_requests_total` on its `/metrics`), by
//! verb and status code: unlike the API server's counter, it holds nothing of the cluster's own
//! components, so it needs no baseline and tells which requests are the controller's.

use std::net::SocketAddr;

use anyhow::{Result, bail};

use super::apimetrics::Counts;
use super::http;

/// Reads the counter now, keyed `<verb> <code>` (e.g. `get 404`).
pub fn read(metrics: SocketAddr) -> Result<Counts> {
    let (status, body) = http::get(metrics, "/metrics")?;
    if status != 200 {
        bail!("lockstep's /metrics answered {status}");
    }
    Ok(parse(&body))
}

/// The `lockstep_kube_requests_total` samples of a `/metrics` text, keyed `<verb> <code>`.
pub fn parse(text: &str) -> Counts {
    let mut counts = Counts::new();
    for line in text.lines().filter(|l| l.starts_with("lockstep_kube_requests_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let label = |name: &str| {
            let key = format!("{name}=\"");
            let start = labels.find(&key)? + key.len();
            labels[start..].split('"').next().map(str::to_owned)
        };
        let (Some(verb), Some(code)) = (label("verb"), label("code")) else { continue };
        *counts.entry(format!("{verb} {code}")).or_default() += value;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_keyed_by_verb_and_code() {
        let text = r#"# TYPE lockstep_kube_requests_total counter
lockstep_kube_requests_total{verb="get",code="404"} 3
lockstep_kube_requests_total{verb="patch",code="201"} 40
lockstep_kube_requests_total_other{verb="get",code="404"} 9
"#;
        let counts = parse(text);
        assert_eq!(counts.get("get 404"), Some(&3.0));
        assert_eq!(counts.get("patch 201"), Some(&40.0));
        assert_eq!(counts.len(), 2);
    }
}
