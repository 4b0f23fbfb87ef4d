use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One object rendered from git, with where it came from so errors and diffs can point at it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The object as written in git (JSON form).
    pub object: Value,
    /// File it came from, relative to the repository root.
    pub file: String,
    /// Index of the YAML document in that file, from 0.
    pub document: usize,
}

impl Manifest {
    /// `apiVersion` of the object.
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or_default()
    }

    /// `kind` of the object.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    /// `metadata.name` of the object.
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// `metadata.namespace` of the object, if written in git.
    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str().filter(|ns| !ns.is_empty())
    }
}
