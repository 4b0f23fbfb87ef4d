//! Reading the controller's Prometheus text exposition: counters summed over labels, and the
//! quantiles of a histogram between two scrapes (as PromQL's `histogram_quantile` over an increase).

/// The samples of metric `name` (exactly that name, any labels): `(labels, value)`.
fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(tail) => {
                    let (labels, value) = tail.split_once('}')?;
                    (labels, value)
                }
                None if rest.starts_with(' ') => ("", rest),
                None => return None,
            };
            Some((labels, value.split_whitespace().next()?.parse::<f64>().ok()?))
        })
        .collect()
}

/// The sum of every sample of `name` whose labels contain `filter` (all when empty).
pub fn sum(text: &str, name: &str, filter: &str) -> f64 {
    samples(text, name).iter().filter(|(labels, _)| labels.contains(filter)).map(|(_, v)| v).sum()
}

/// A histogram's cumulative bucket counts by upper bound, `+Inf` last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(pub Vec<(f64, f64)>);

impl Buckets {
    /// The `<name>_bucket` series of one (label-less) histogram.
    pub fn read(text: &str, name: &str) -> Self {
        let mut buckets: Vec<(f64, f64)> = samples(text, &format!("{name}_bucket"))
            .into_iter()
            .filter_map(|(labels, count)| {
                let le = labels.split("le=\"").nth(1)?.split('"').next()?;
                let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                Some((bound, count))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self(buckets)
    }

    /// What was observed after `earlier` (bucket by bucket).
    pub fn since(&self, earlier: &Buckets) -> Buckets {
        Buckets(
            self.0
                .iter()
                .map(|(bound, count)| {
                    let before = earlier.0.iter().find(|(b, _)| b == bound).map_or(0.0, |(_, c)| *c);
                    (*bound, (count - before).max(0.0))
                })
                .collect(),
        )
    }

    /// How many observations.
    pub fn count(&self) -> f64 {
        self.0.last().map_or(0.0, |(_, c)| *c)
    }

    /// The `q` quantile, interpolated linearly inside its bucket; an observation beyond the last
    /// finite bound reads as that bound. `None` without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for (bound, count) in &self.0 {
            if *count >= rank {
                if bound.is_infinite() {
                    return Some(lower);
                }
                let inside = count - below;
                let fraction = if inside > 0.0 { (rank - below) / inside } else { 1.0 };
                return Some(lower + (bound - lower) * fraction);
            }
            (lower, below) = (*bound, *count);
        }
        Some(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP lockstep_app_reconcile_queue_seconds x
# TYPE lockstep_app_reconcile_queue_seconds histogram
lockstep_app_reconcile_queue_seconds_sum 1.5
lockstep_app_reconcile_queue_seconds_count 10
lockstep_app_reconcile_queue_seconds_bucket{le="0.001"} 2
lockstep_app_reconcile_queue_seconds_bucket{le="0.002"} 6
lockstep_app_reconcile_queue_seconds_bucket{le="0.004"} 9
lockstep_app_reconcile_queue_seconds_bucket{le="+Inf"} 10
lockstep_kube_requests_total{verb="get",code="200"} 7
lockstep_kube_requests_total{verb="patch",code="200"} 3
lockstep_kube_requests_total{verb="patch",code="409"} 1
lockstep_kube_requests_total_other 100
"#;

    #[test]
    fn counters_sum_over_matching_labels() {
        assert_eq!(sum(TEXT, "lockstep_kube_requests_total", ""), 11.0);
        assert_eq!(sum(TEXT, "lockstep_kube_requests_total", "verb=\"patch\""), 4.0);
        assert_eq!(sum(TEXT, "lockstep_app_reconcile_queue_seconds_count", ""), 10.0);
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        let buckets = Buckets::read(TEXT, "lockstep_app_reconcile_queue_seconds");
        assert_eq!(buckets.count(), 10.0);
        // The 5th of 10 lies in (0.001, 0.002], 3 of its 4 observations in.
        assert!((buckets.quantile(0.5).unwrap() - 0.00175).abs() < 1e-9);
        // The 10th lies beyond the last finite bound.
        assert_eq!(buckets.quantile(0.99), Some(0.004));
        let later = Buckets::read(
            &TEXT.replace("} 9", "} 19").replace("} 10\n", "} 20\n"),
            "lockstep_app_reconcile_queue_seconds",
        );
        let window = later.since(&buckets);
        assert_eq!(window.count(), 10.0);
        assert!((window.quantile(0.5).unwrap() - 0.003).abs() < 1e-9, "{window:?}");
        assert_eq!(Buckets::default().quantile(0.5), None);
    }
}
