//! Checks on a spec that the CRD schema cannot express: pure.

use lockstep_api::ApplicationSpec;

/// Returns why the spec cannot be acted on, or `None` when it can.
pub fn invalid_spec(spec: &ApplicationSpec) -> Option<String> {
    if let Some(problem) = crate::multi_source::sources_problem(spec) {
        return Some(problem);
    }
    if let Some(ns) = spec.destination.namespace.as_deref().filter(|ns| !ns.is_empty())
        && !is_dns_label(ns)
    {
        return Some(format!("spec.destination.namespace {ns:?} is not a valid namespace name"));
    }
    if let Some(problem) = dependency_problem(spec) {
        return Some(problem);
    }
    if let Some(problem) = lockstep_engine::ignore::problems(&spec.ignore_differences) {
        return Some(problem);
    }
    let server = spec.destination.server.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(server) = server
        && !(server.starts_with("https://") || server.starts_with("http://"))
    {
        return Some(format!("spec.destination.server {server:?} is not an http(s) URL"));
    }
    None
}

/// An entry of `spec.dependsOn` with no name or an invalid namespace, or one listed twice.
fn dependency_problem(spec: &ApplicationSpec) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, dep) in spec.depends_on.iter().enumerate() {
        if dep.name.trim().is_empty() {
            return Some(format!("spec.dependsOn[{i}].name is empty"));
        }
        let namespace = dep.namespace.as_deref().filter(|ns| !ns.is_empty());
        if let Some(ns) = namespace
            && !is_dns_label(ns)
        {
            return Some(format!("spec.dependsOn[{i}].namespace {ns:?} is not a valid namespace name"));
        }
        if !seen.insert((namespace, dep.name.as_str())) {
            let named = namespace.map_or_else(|| dep.name.clone(), |ns| format!("{ns}/{}", dep.name));
            return Some(format!("spec.dependsOn lists {named} more than once"));
        }
    }
    None
}

/// RFC 1123 label: what Kubernetes accepts as a namespace name.
fn is_dns_label(name: &str) -> bool {
    name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationDependency, ApplicationDestination, ApplicationSource};

    fn spec(repo: &str, path: Option<&str>, ns: Option<&str>) -> ApplicationSpec {
        ApplicationSpec {
            source: Some(ApplicationSource {
                repo_url: repo.into(),
                path: path.map(String::from),
                ..Default::default()
            }),
            destination: ApplicationDestination { namespace: ns.map(String::from), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn accepts_ordinary_specs() {
        assert_eq!(invalid_spec(&spec("https://git/x", Some("apps/web"), Some("web"))), None);
        assert_eq!(invalid_spec(&spec("file:///srv/x", None, None)), None);
    }

    #[test]
    fn rejects_what_the_schema_lets_through() {
        assert!(invalid_spec(&spec("  ", None, None)).unwrap().contains("empty"));
        assert!(invalid_spec(&spec("https://git/x y", None, None)).unwrap().contains("whitespace"));
        assert!(invalid_spec(&spec("https://git/x", Some("../etc"), None)).unwrap().contains("inside"));
        assert!(invalid_spec(&spec("https://git/x", Some("/etc"), None)).unwrap().contains("relative"));
        assert!(invalid_spec(&spec("https://git/x", None, Some("Bad_NS"))).unwrap().contains("namespace"));
    }

    #[test]
    fn a_destination_server_is_a_url() {
        let mut s = spec("https://git/x", None, None);
        s.destination.server = Some("https://kubernetes.default.svc".into());
        s.destination.name = Some("in-cluster".into());
        assert_eq!(invalid_spec(&s), None);
        s.destination.server = Some("https://10.0.0.1:6443".into());
        s.destination.name = Some("east".into());
        assert_eq!(invalid_spec(&s), None, "remote clusters are resolved from cluster Secrets");
        s.destination.server = Some("10.0.0.1:6443".into());
        assert!(invalid_spec(&s).unwrap().contains("not an http(s) URL"));
    }

    #[test]
    fn a_dependency_has_a_name_and_is_listed_once() {
        let dep =
            |name: &str, ns: Option<&str>| ApplicationDependency { name: name.into(), namespace: ns.map(String::from) };
        let mut s = spec("https://git/x", None, None);
        s.depends_on = vec![dep("db", None), dep("db", Some("infra")), dep("cache", Some(""))];
        assert_eq!(invalid_spec(&s), None, "the same name in another namespace is another Application");
        s.depends_on = vec![dep("db", None), dep(" ", None)];
        assert_eq!(invalid_spec(&s).as_deref(), Some("spec.dependsOn[1].name is empty"));
        s.depends_on = vec![dep("db", Some("Infra_1"))];
        assert!(invalid_spec(&s).unwrap().contains("spec.dependsOn[0].namespace"));
        s.depends_on = vec![dep("db", None), dep("db", Some(""))];
        assert_eq!(invalid_spec(&s).as_deref(), Some("spec.dependsOn lists db more than once"));
        s.depends_on = vec![dep("db", Some("infra")), dep("db", Some("infra"))];
        assert_eq!(invalid_spec(&s).as_deref(), Some("spec.dependsOn lists infra/db more than once"));
    }
}
