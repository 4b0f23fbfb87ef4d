//! The Application list's filters, from the query string: project, namespace, cluster, health,
//! sync, a label selector (`k=v,k2,!k3`, as the list command's `-l` subset) and a search over name,
//! repository and path. Pure.

use kube::ResourceExt as _;
use lockstep_api::Application;
use serde::Deserialize;

/// The filters as the query string carries them; empty means "any".
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ListFilter {
    /// AppProject name (`default` when the spec names none).
    #[serde(default)]
    pub project: String,
    /// Namespaces, comma-separated.
    #[serde(default)]
    pub namespace: String,
    /// Destination server URL or cluster name.
    #[serde(default)]
    pub cluster: String,
    /// Health code (`Healthy`, `Degraded`, ...).
    #[serde(default)]
    pub health: String,
    /// Sync code (`Synced`, `OutOfSync`, `Unknown`).
    #[serde(default)]
    pub sync: String,
    /// Label selector: `k=v`, `k!=v`, `k` and `!k`, comma-separated.
    #[serde(default)]
    pub labels: String,
    /// Case-insensitive substring of the name, repository URL or path.
    #[serde(default)]
    pub q: String,
}

impl ListFilter {
    /// The namespaces named, in order, without blanks.
    pub fn namespaces(&self) -> Vec<String> {
        split(&self.namespace).map(String::from).collect()
    }

    /// The filters as a query string (`project=a&q=web`), the empty ones left out: the list page's
    /// event stream carries them so the server can say which Applications belong on the page.
    pub fn query(&self) -> String {
        let fields = [
            ("project", &self.project),
            ("namespace", &self.namespace),
            ("cluster", &self.cluster),
            ("health", &self.health),
            ("sync", &self.sync),
            ("labels", &self.labels),
            ("q", &self.q),
        ];
        let set: Vec<(&str, &String)> = fields.into_iter().filter(|(_, value)| !value.is_empty()).collect();
        serde_urlencoded::to_string(set).unwrap_or_default()
    }

    /// Whether `app` passes every filter.
    pub fn matches(&self, app: &Application) -> bool {
        let status = app.status.clone().unwrap_or_default();
        let project = app.spec.project.as_deref().unwrap_or("default");
        let namespace = app.namespace().unwrap_or_default();
        let destination = &app.spec.destination;
        let names: Vec<&str> = split(&self.namespace).collect();
        let query = self.q.trim().to_lowercase();
        let name = app.name_any();
        let sources = app.spec.all_sources();
        let fields = sources.iter().flat_map(|s| [s.repo_url.as_str(), s.path.as_deref().unwrap_or_default()]);
        let found = query.is_empty()
            || std::iter::once(name.as_str()).chain(fields).any(|field| field.to_lowercase().contains(&query));
        (self.project.is_empty() || self.project == project)
            && (names.is_empty() || names.contains(&namespace.as_str()))
            && (self.cluster.is_empty()
                || destination.server.as_deref() == Some(self.cluster.as_str())
                || destination.name.as_deref() == Some(self.cluster.as_str()))
            && (self.health.is_empty() || self.health == status.health.status.to_string())
            && (self.sync.is_empty() || self.sync == status.sync.status.to_string())
            && labels_match(&self.labels, app.labels())
            && found
    }
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Whether `labels` satisfy every requirement of `selector`.
pub fn labels_match(selector: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    split(selector).all(|requirement| {
        if let Some((key, value)) = requirement.split_once("!=") {
            labels.get(key.trim()).map(String::as_str) != Some(value.trim())
        } else if let Some((key, value)) = requirement.split_once('=') {
            let value = value.trim_start_matches('=');
            labels.get(key.trim()).map(String::as_str) == Some(value.trim())
        } else if let Some(key) = requirement.strip_prefix('!') {
            !labels.contains_key(key.trim())
        } else {
            labels.contains_key(requirement)
        }
    })
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
