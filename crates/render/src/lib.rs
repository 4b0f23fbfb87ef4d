//! Rendering: turns the files at a source path into the Kubernetes objects to deploy, from plain
//! directories, Kustomize overlays or Helm charts.
//!
//! Tools run sandboxed (scratch homes, scrubbed environment, timeout, output cap, no network) on a
//! read-only snapshot; errors name the file, or the tool and its message.

mod application;
mod cache;
mod chart_dependencies;
pub mod decrypt;
mod detect;
mod directory;
mod error;
mod helm;
mod kustomize;
mod kustomize_helm;
mod manifest;
mod options;
mod renderer;
mod sandbox;
mod sources;
#[cfg(test)]
mod test_tree;
mod tool;

pub use application::{
    ClusterCapabilities, chart_name, destination_namespace, render_application, render_identity, render_request,
    source_dir, source_request,
};
pub use chart_dependencies::{RemoteDependency, ResolvedDependency, remote_dependencies};
pub use detect::detect_kind;
pub use directory::{parse_manifests, render_directory, resolve_source_path};
pub use error::RenderError;
pub use kustomize_helm::{KustomizeHelmChart, ResolvedHelmChart, helm_charts, kustomize_helm_charts};
pub use manifest::Manifest;
pub use options::{
    DirectoryOptions, HelmOptions, HelmParameter, KustomizeOptions, RenderRequest, SourceKind, ValueRoot,
};
pub use renderer::{Rendered, Renderer, RendererConfig};
pub use sources::{
    FetchedSource, SourcesRenderError, check_value_refs, merge, render_sources, renders, split_value_ref, value_roots,
};
pub use tool::Limits;
