//! Helm's OCI layout for charts, pure: a repository `oci://host/path` holds the chart `name` at
//! `host/path/name`, tagged with its version (`+` written as `_`). Used by git charts'
//! dependencies, Argo CD's `repoURL` + `chart` form and anything else that names a chart by
//! repository and name.

use super::reference::{OCI_SCHEME, OciTarget, chart_version_tag, is_oci_url};
use crate::revision::RevisionSpec;

/// A chart in an OCI registry, as Helm names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciChartRef {
    /// The repository as written (`oci://host/charts`, or `host/charts` without a scheme).
    pub repository: String,
    /// The chart's name.
    pub chart: String,
    /// `oci://host/charts/<chart>`: the registry repository holding the chart's versions.
    pub url: String,
    /// The tag, semver range or digest to resolve; `None` is the tag `latest`.
    pub version: Option<String>,
}

impl OciChartRef {
    /// The chart `chart` of `repository` (with or without `oci://`) at `version`. An exact version
    /// becomes its tag (`1.2.3+build` → `1.2.3_build`); a range is resolved against the tags.
    pub fn new(repository: &str, chart: &str, version: Option<&str>) -> Result<Self, String> {
        let repository = repository.trim();
        let chart = chart.trim();
        if chart.is_empty() || chart.contains('/') || chart.contains(':') || chart.contains('@') {
            return Err(format!("{chart:?} is not a chart name"));
        }
        let base = if is_oci_url(repository) {
            format!("{OCI_SCHEME}{}", &repository[OCI_SCHEME.len()..])
        } else {
            format!("{OCI_SCHEME}{repository}")
        };
        let url = format!("{}/{chart}", base.trim_end_matches('/'));
        let version = version.map(str::trim).filter(|v| !v.is_empty()).map(|v| match RevisionSpec::parse(Some(v)) {
            RevisionSpec::Range(_) => v.to_string(),
            _ => chart_version_tag(v),
        });
        OciTarget::parse(&url, version.as_deref())?;
        Ok(Self { repository: repository.to_string(), chart: chart.to_string(), url, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::OciPin;

    fn pin(chart: &OciChartRef) -> OciPin {
        OciTarget::parse(&chart.url, chart.version.as_deref()).unwrap().pin
    }

    #[test]
    fn the_chart_name_is_appended_to_the_repository() {
        let chart = OciChartRef::new("oci://reg.example:5000/charts/", "mychart", Some("1.2.3")).unwrap();
        assert_eq!(chart.url, "oci://reg.example:5000/charts/mychart");
        assert_eq!(pin(&chart), OciPin::Tag("1.2.3".into()));
        let schemeless = OciChartRef::new("reg.example/team/charts", "web", Some("~1.2")).unwrap();
        assert_eq!(schemeless.url, "oci://reg.example/team/charts/web");
        assert_eq!(schemeless.repository, "reg.example/team/charts");
        assert_eq!(pin(&schemeless), OciPin::Range("~1.2".into()));
        let upper = OciChartRef::new("OCI://reg/charts", "web", None).unwrap();
        assert_eq!((upper.url.as_str(), pin(&upper)), ("oci://reg/charts/web", OciPin::Tag("latest".into())));
    }

    #[test]
    fn build_metadata_is_written_as_helm_tags_it() {
        let chart = OciChartRef::new("oci://reg/charts", "web", Some("1.2.3+build.4")).unwrap();
        assert_eq!(chart.version.as_deref(), Some("1.2.3_build.4"));
        let range = OciChartRef::new("oci://reg/charts", "web", Some(">=1.2.3 <2")).unwrap();
        assert_eq!(range.version.as_deref(), Some(">=1.2.3 <2"), "a range is resolved against the tags");
        let digest = format!("sha256:{}", "ab".repeat(32));
        let pinned = OciChartRef::new("oci://reg/charts", "web", Some(&format!("1.2.3@{digest}"))).unwrap();
        assert_eq!(pin(&pinned), OciPin::Digest { digest, tag: Some("1.2.3".into()) });
    }

    #[test]
    fn bad_names_and_repositories_are_refused() {
        for (repository, chart) in
            [("oci://reg/charts", ""), ("oci://reg/charts", "a/b"), ("oci://reg/charts", "Web"), ("oci://", "web")]
        {
            assert!(OciChartRef::new(repository, chart, Some("1.0.0")).is_err(), "{repository} {chart}");
        }
        assert!(OciChartRef::new("oci://reg/charts", "web", Some("not a version!")).is_err());
    }
}
