//! Project rules (`AppProject`), evaluated as Argo CD does: which namespaces' Applications may use a
//! project, which repositories, destinations and kinds they may use. Pure: the project is looked up
//! by [`crate::projects`].
//!
//! Every pattern is a glob where `*` also matches `/`. In `sourceRepos` and `sourceNamespaces` a
//! value is allowed when a plain pattern matches it and no pattern starting with `!` does. A
//! destination is allowed when some rule permits it and none rejects it (see [`judge`]).

use globset::{Glob, GlobMatcher};
use lockstep_api::{AppProjectSpec, ApplicationDestinationRule, GroupKind};

/// The project an Application belongs to, as far as the rules go.
#[derive(Clone, Debug, PartialEq)]
pub enum Project {
    /// The `default` project does not exist: everything is allowed (single-tenant installs).
    Unrestricted,
    /// A project and its rules.
    Rules {
        /// Its name, for messages.
        name: String,
        /// Its spec.
        spec: Box<AppProjectSpec>,
    },
}

/// The cluster an Application deploys to, as the project rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// API server URL.
    pub server: String,
    /// Cluster name.
    pub name: String,
}

/// A rendered object, as the project rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKind<'a> {
    /// API group; empty for the core group.
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Its namespace once placed; `None` for a cluster-scoped object.
    pub namespace: Option<&'a str>,
}

impl Project {
    /// Whether an Application in `app_namespace` may use this project, deploy from `repo` and to
    /// `namespace` of `cluster`; `Err` names the rule that forbids it.
    pub fn admits(
        &self,
        app_namespace: &str,
        controller_namespace: &str,
        repo: &str,
        cluster: &Cluster,
        namespace: &str,
    ) -> Result<(), String> {
        let Self::Rules { name, spec } = self else { return Ok(()) };
        if app_namespace != controller_namespace && !patterns_allow(&spec.source_namespaces, app_namespace) {
            return Err(format!(
                "project {name:?} does not allow Applications in namespace {app_namespace:?} (spec.sourceNamespaces)"
            ));
        }
        if !patterns_allow(&spec.source_repos, repo.trim()) {
            return Err(format!("project {name:?} does not allow repository {repo:?} (spec.sourceRepos)"));
        }
        self.allows_destination(cluster, namespace)
    }

    /// Whether the project may manage `object` in `cluster`; `Err` names the rule that forbids it.
    pub fn allows_object(&self, cluster: &Cluster, object: &ObjectKind<'_>) -> Result<(), String> {
        let Self::Rules { name, spec } = self else { return Ok(()) };
        let what =
            if object.group.is_empty() { object.kind.to_string() } else { format!("{}/{}", object.group, object.kind) };
        match object.namespace {
            None => {
                if spec.cluster_resource_blacklist.iter().any(|gk| kind_matches(gk, object)) {
                    return Err(format!(
                        "project {name:?} does not allow cluster-scoped kind {what} (spec.clusterResourceBlacklist)"
                    ));
                }
                if !spec.cluster_resource_whitelist.iter().any(|gk| kind_matches(gk, object)) {
                    return Err(format!(
                        "project {name:?} does not allow cluster-scoped kind {what} (not in spec.clusterResourceWhitelist)"
                    ));
                }
                Ok(())
            }
            Some(namespace) => {
                if spec.namespace_resource_blacklist.iter().any(|gk| kind_matches(gk, object)) {
                    return Err(format!(
                        "project {name:?} does not allow kind {what} (spec.namespaceResourceBlacklist)"
                    ));
                }
                if !spec.namespace_resource_whitelist.is_empty()
                    && !spec.namespace_resource_whitelist.iter().any(|gk| kind_matches(gk, object))
                {
                    return Err(format!(
                        "project {name:?} does not allow kind {what} (not in spec.namespaceResourceWhitelist)"
                    ));
                }
                self.allows_destination(cluster, namespace)
            }
        }
    }

    fn allows_destination(&self, cluster: &Cluster, namespace: &str) -> Result<(), String> {
        let Self::Rules { name, spec } = self else { return Ok(()) };
        let verdicts: Vec<Verdict> = spec.destinations.iter().map(|r| judge(r, cluster, namespace)).collect();
        if verdicts.contains(&Verdict::Rejects) || !verdicts.contains(&Verdict::Permits) {
            return Err(format!(
                "project {name:?} does not allow destination server {:?} (name {:?}) namespace {namespace:?} (spec.destinations)",
                cluster.server, cluster.name
            ));
        }
        Ok(())
    }
}

/// Whether `sourceRepos` or `sourceNamespaces` allow `value`: a plain pattern matches it and no
/// `!` pattern does.
fn patterns_allow(patterns: &[String], value: &str) -> bool {
    let (deny, allow): (Vec<&String>, Vec<&String>) = patterns.iter().partition(|p| p.starts_with('!'));
    allow.iter().any(|p| glob_matches(p, value)) && !deny.iter().any(|p| glob_matches(&p[1..], value))
}

/// What one destination rule says about a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Every field matches (a `!` field by not matching its pattern).
    Permits,
    /// A `!` field matches its pattern while the other fields match: the destination is denied.
    Rejects,
    /// Neither.
    Silent,
}

/// Judges a destination against one rule as Argo CD does: `server` or `name` (either, when both are
/// given) and `namespace`; a field left out matches anything.
fn judge(rule: &ApplicationDestinationRule, cluster: &Cluster, namespace: &str) -> Verdict {
    let server = field(&rule.server, &cluster.server);
    let name = field(&rule.name, &cluster.name);
    let cluster_field = match (server, name) {
        (Some(server), Some(name)) => Some(if server.passes() { server } else { name }),
        (server, name) => server.or(name),
    };
    let cluster_passes = cluster_field.is_none_or(Field::passes);
    let namespace_field = field(&rule.namespace, namespace);
    let namespace_passes = namespace_field.is_none_or(Field::passes);
    let negated_hit = |f: Option<Field>| f.is_some_and(|f| f.negated && f.matched);
    if cluster_passes && namespace_passes {
        Verdict::Permits
    } else if (negated_hit(cluster_field) && namespace_passes) || (negated_hit(namespace_field) && cluster_passes) {
        Verdict::Rejects
    } else {
        Verdict::Silent
    }
}

/// One pattern of a destination rule applied to a value.
#[derive(Clone, Copy, Debug)]
struct Field {
    /// The pattern starts with `!`.
    negated: bool,
    /// The pattern (without `!`) matches the value.
    matched: bool,
}

impl Field {
    fn passes(self) -> bool {
        self.negated != self.matched
    }
}

fn field(pattern: &Option<String>, value: &str) -> Option<Field> {
    let pattern = pattern.as_deref().filter(|p| !p.is_empty())?;
    Some(match pattern.strip_prefix('!') {
        Some(rest) => Field { negated: true, matched: glob_matches(rest, value) },
        None => Field { negated: false, matched: glob_matches(pattern, value) },
    })
}

fn kind_matches(rule: &GroupKind, object: &ObjectKind<'_>) -> bool {
    glob_matches(&rule.group, object.group) && glob_matches(&rule.kind, object.kind)
}

/// Glob match where `*` matches any run of characters, `/` included; a broken pattern matches only
/// itself.
pub fn glob_matches(pattern: &str, value: &str) -> bool {
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .as_ref()
        .map_or(pattern == value, |m: &GlobMatcher| m.is_match(value))
}

/// Whether a kind is namespaced according to a CustomResourceDefinition among the rendered objects.
pub fn scope_in_render(objects: &[&serde_json::Value], group: &str, kind: &str) -> Option<bool> {
    objects
        .iter()
        .find(|o| {
            o["kind"] == "CustomResourceDefinition" && o["spec"]["group"] == group && o["spec"]["names"]["kind"] == kind
        })
        .map(|crd| crd["spec"]["scope"] != "Cluster")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crd_in_the_render_gives_the_scope_of_its_kind() {
        let crd = serde_json::json!({"kind": "CustomResourceDefinition", "spec": {"group": "x.dev", "names": {"kind": "Widget"}, "scope": "Cluster"}});
        let ns_crd = serde_json::json!({"kind": "CustomResourceDefinition", "spec": {"group": "x.dev", "names": {"kind": "Gadget"}, "scope": "Namespaced"}});
        let objects = [&crd, &ns_crd];
        assert_eq!(scope_in_render(&objects, "x.dev", "Widget"), Some(false));
        assert_eq!(scope_in_render(&objects, "x.dev", "Gadget"), Some(true));
        assert_eq!(scope_in_render(&objects, "y.dev", "Widget"), None);
    }

    fn gk(group: &str, kind: &str) -> GroupKind {
        GroupKind { group: group.into(), kind: kind.into() }
    }

    fn dest(server: Option<&str>, name: Option<&str>, namespace: Option<&str>) -> ApplicationDestinationRule {
        ApplicationDestinationRule {
            server: server.map(String::from),
            name: name.map(String::from),
            namespace: namespace.map(String::from),
        }
    }

    fn in_cluster() -> Cluster {
        Cluster { server: "https://kubernetes.default.svc".into(), name: "in-cluster".into() }
    }

    fn project(spec: AppProjectSpec) -> Project {
        Project::Rules { name: "team".into(), spec: Box::new(spec) }
    }

    fn team() -> Project {
        project(AppProjectSpec {
            source_repos: vec!["https://git.example.com/team/*".into(), "!https://git.example.com/team/secret*".into()],
            destinations: vec![dest(Some("https://kubernetes.default.svc"), None, Some("team-*"))],
            source_namespaces: vec!["apps-*".into()],
            ..Default::default()
        })
    }

    fn object<'a>(group: &'a str, kind: &'a str, namespace: Option<&'a str>) -> ObjectKind<'a> {
        ObjectKind { group, kind, namespace }
    }

    #[test]
    fn a_missing_default_project_allows_everything() {
        let p = Project::Unrestricted;
        assert_eq!(p.admits("x", "ctl", "https://any/repo", &in_cluster(), "any"), Ok(()));
        assert_eq!(p.allows_object(&in_cluster(), &object("rbac.authorization.k8s.io", "ClusterRole", None)), Ok(()));
    }

    #[test]
    fn repositories_follow_globs_and_deny_patterns() {
        let p = team();
        assert_eq!(p.admits("ctl", "ctl", "https://git.example.com/team/web.git", &in_cluster(), "team-a"), Ok(()));
        let other = p.admits("ctl", "ctl", "https://git.example.com/other/web.git", &in_cluster(), "team-a");
        assert!(other.unwrap_err().contains("spec.sourceRepos"));
        assert!(p.admits("ctl", "ctl", "https://git.example.com/team/secrets.git", &in_cluster(), "team-a").is_err());
        assert!(!patterns_allow(&["!https://bad/*".into()], "https://good/x"), "deny patterns alone allow nothing");
        assert!(!patterns_allow(&[], "https://good/x"), "no patterns: nothing is allowed");
        assert!(patterns_allow(&["*".into()], "git@host:a/b.git"));
    }

    #[test]
    fn destinations_match_server_or_name_and_namespace() {
        let p = team();
        let denied = p.admits("ctl", "ctl", "https://git.example.com/team/web", &in_cluster(), "kube-system");
        assert!(denied.unwrap_err().contains("spec.destinations"));
        let remote = Cluster { server: "https://10.0.0.1:6443".into(), name: "remote".into() };
        assert!(p.admits("ctl", "ctl", "https://git.example.com/team/web", &remote, "team-a").is_err());
        let by_name = project(AppProjectSpec {
            source_repos: vec!["*".into()],
            destinations: vec![dest(None, Some("remote"), Some("*")), dest(Some("*"), None, Some("!kube-*"))],
            ..Default::default()
        });
        assert_eq!(by_name.admits("ctl", "ctl", "r", &remote, "web"), Ok(()));
        assert!(by_name.admits("ctl", "ctl", "r", &remote, "kube-system").is_err(), "a rejecting rule wins");
        assert_eq!(by_name.admits("ctl", "ctl", "r", &in_cluster(), "web"), Ok(()), "a `!` rule also permits");
        let not_team1 = project(AppProjectSpec {
            source_repos: vec!["*".into()],
            destinations: vec![dest(Some("!https://team1-*"), None, Some("*"))],
            ..Default::default()
        });
        let team1 = Cluster { server: "https://team1-a".into(), name: "a".into() };
        assert!(not_team1.admits("ctl", "ctl", "r", &team1, "web").is_err());
        assert_eq!(not_team1.admits("ctl", "ctl", "r", &remote, "web"), Ok(()));
    }

    #[test]
    fn source_namespaces_limit_who_may_use_the_project() {
        let p = team();
        let repo = "https://git.example.com/team/web";
        assert_eq!(p.admits("apps-1", "ctl", repo, &in_cluster(), "team-a"), Ok(()));
        assert!(
            p.admits("elsewhere", "ctl", repo, &in_cluster(), "team-a").unwrap_err().contains("spec.sourceNamespaces")
        );
        assert_eq!(
            p.admits("ctl", "ctl", repo, &in_cluster(), "team-a"),
            Ok(()),
            "the controller namespace always may"
        );
    }

    #[test]
    fn cluster_scoped_kinds_need_the_whitelist_and_not_the_blacklist() {
        let mut spec = AppProjectSpec {
            destinations: vec![dest(Some("*"), None, Some("*"))],
            cluster_resource_whitelist: vec![gk("", "Namespace"), gk("rbac.authorization.k8s.io", "*")],
            cluster_resource_blacklist: vec![gk("rbac.authorization.k8s.io", "ClusterRoleBinding")],
            ..Default::default()
        };
        let p = project(spec.clone());
        assert_eq!(p.allows_object(&in_cluster(), &object("", "Namespace", None)), Ok(()));
        assert_eq!(p.allows_object(&in_cluster(), &object("rbac.authorization.k8s.io", "ClusterRole", None)), Ok(()));
        let binding = p.allows_object(&in_cluster(), &object("rbac.authorization.k8s.io", "ClusterRoleBinding", None));
        assert!(binding.unwrap_err().contains("clusterResourceBlacklist"));
        let crd = p.allows_object(&in_cluster(), &object("apiextensions.k8s.io", "CustomResourceDefinition", None));
        assert!(crd.unwrap_err().contains("apiextensions.k8s.io/CustomResourceDefinition"));
        spec.cluster_resource_whitelist.clear();
        let none = project(spec).allows_object(&in_cluster(), &object("", "Namespace", None));
        assert!(none.unwrap_err().contains("not in spec.clusterResourceWhitelist"), "an empty whitelist allows none");
    }

    #[test]
    fn namespaced_kinds_and_their_namespaces() {
        let mut spec = AppProjectSpec {
            destinations: vec![dest(Some("*"), None, Some("team-*"))],
            namespace_resource_blacklist: vec![gk("", "ResourceQuota")],
            ..Default::default()
        };
        let p = project(spec.clone());
        assert_eq!(p.allows_object(&in_cluster(), &object("apps", "Deployment", Some("team-a"))), Ok(()));
        assert!(p.allows_object(&in_cluster(), &object("", "ResourceQuota", Some("team-a"))).is_err());
        let elsewhere = p.allows_object(&in_cluster(), &object("", "ConfigMap", Some("kube-system")));
        assert!(elsewhere.unwrap_err().contains("spec.destinations"), "an object's own namespace is checked");
        spec.namespace_resource_whitelist = vec![gk("", "ConfigMap")];
        let p = project(spec);
        assert_eq!(p.allows_object(&in_cluster(), &object("", "ConfigMap", Some("team-a"))), Ok(()));
        assert!(p.allows_object(&in_cluster(), &object("apps", "Deployment", Some("team-a"))).is_err());
    }
}
