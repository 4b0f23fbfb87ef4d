use std::fmt;

/// Identity of one object: group, version, kind, namespace and name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ResourceKey {
    /// The key of a rendered object, splitting `apiVersion` into group and version.
    pub fn of(object: &serde_json::Value) -> Self {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Self {
            group: group.to_string(),
            version: version.to_string(),
            kind: object["kind"].as_str().unwrap_or_default().to_string(),
            namespace: object["metadata"]["namespace"].as_str().filter(|ns| !ns.is_empty()).map(String::from),
            name: object["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// `Kind namespace/name`, or `Kind name` when cluster-scoped: how users name objects in messages.
impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_api_version_and_displays() {
        let key = ResourceKey::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "prod"}}),
        );
        assert_eq!((key.group.as_str(), key.version.as_str()), ("apps", "v1"));
        assert_eq!(key.to_string(), "Deployment prod/web");
        let key = ResourceKey::of(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}));
        assert_eq!((key.group.as_str(), key.version.as_str()), ("", "v1"));
        assert_eq!(key.to_string(), "Namespace prod");
    }
}
