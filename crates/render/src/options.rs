//! What to render: the source type and the options of each type, as plain data (the cache key is
//! derived from it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The three kinds of source lockstep renders, as Argo CD names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceKind {
    /// YAML and JSON files read as they are.
    Directory,
    /// `kustomize build`.
    Kustomize,
    /// `helm template`.
    Helm,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Directory => "Directory",
            Self::Kustomize => "Kustomize",
            Self::Helm => "Helm",
        })
    }
}

/// Options of a directory source (Argo CD's `spec.source.directory`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirectoryOptions {
    /// Also read subdirectories.
    pub recurse: bool,
    /// Only files whose relative path matches this glob.
    pub include: Option<String>,
    /// Skip files whose relative path matches this glob; wins over `include`.
    pub exclude: Option<String>,
}

/// Options laid over a Kustomize source (Argo CD's `spec.source.kustomize`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KustomizeOptions {
    /// Prefix added to every name.
    pub name_prefix: Option<String>,
    /// Suffix added to every name.
    pub name_suffix: Option<String>,
    /// Namespace set on every namespaced object.
    pub namespace: Option<String>,
    /// `[old=]new[:tag|@digest]` image overrides.
    pub images: Vec<String>,
    /// Labels added to every object and selector.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations added to every object.
    pub common_annotations: BTreeMap<String, String>,
    /// Patches in Kustomize's `patches` form; a `path` is relative to the source path.
    pub patches: Vec<Value>,
    /// Component directories, relative to the source path.
    pub components: Vec<String>,
    /// The `helmCharts` charts the caller resolved, placed where Kustomize looks for them in the
    /// render's copy of the repository (part of the cache key; not an option laid over the source).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub helm_charts: Vec<crate::ResolvedHelmChart>,
}

impl KustomizeOptions {
    /// True when nothing is laid over the source, so `kustomize build` runs on it directly.
    pub fn is_empty(&self) -> bool {
        Self { helm_charts: Vec::new(), ..self.clone() } == Self::default()
    }
}

/// One Helm `--set` parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HelmParameter {
    /// Dotted path of the value.
    pub name: String,
    /// The value.
    pub value: String,
    /// `--set-string` instead of `--set`.
    pub force_string: bool,
}

/// Options of a Helm chart source (Argo CD's `spec.source.helm`), with defaults already filled in.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HelmOptions {
    /// Release name (the Application's name unless set).
    pub release_name: String,
    /// Namespace rendered for (the destination namespace unless set).
    pub namespace: String,
    /// Values files relative to the chart directory, in increasing precedence.
    pub value_files: Vec<String>,
    /// Skip values files that do not exist.
    pub ignore_missing_value_files: bool,
    /// Values as YAML text.
    pub values: Option<String>,
    /// Values as an object; wins over `values`.
    pub values_object: Option<Value>,
    /// `--set` parameters, applied last.
    pub parameters: Vec<HelmParameter>,
    /// Leave out `crds/`.
    pub skip_crds: bool,
    /// `.Capabilities.KubeVersion`.
    pub kube_version: Option<String>,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Remote dependencies the caller resolved, placed under `charts/` of the scratch copy.
    pub dependencies: Vec<crate::ResolvedDependency>,
    /// The files of a multi-source Application's `ref` sources, by ref name: a values file written
    /// `$<ref>/path` is read from there (at that source's own revision).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub value_roots: BTreeMap<String, ValueRoot>,
}

/// Another source's checkout that values files may be read from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValueRoot {
    /// The revision checked out (part of the render's cache key).
    pub revision: String,
    /// The checkout's root directory (read-only).
    pub root: std::path::PathBuf,
}

/// Everything the renderer needs to know about one source at one commit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RenderRequest {
    /// The full commit SHA the snapshot holds.
    pub revision: String,
    /// The snapshot's root directory (read-only).
    pub root: std::path::PathBuf,
    /// Source path inside the repository; empty for the root.
    pub path: String,
    /// The source type when set explicitly; detected from the files otherwise.
    pub kind: Option<SourceKind>,
    /// Directory options.
    pub directory: DirectoryOptions,
    /// Kustomize options.
    pub kustomize: KustomizeOptions,
    /// Helm options.
    pub helm: HelmOptions,
}
