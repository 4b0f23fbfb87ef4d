//! Rendering: turns the files at a source path into the Kubernetes objects to deploy.
//!
//! Pure over the filesystem it is given: no network, no cluster. Errors name the file and line.

mod directory;
mod error;
mod manifest;

pub use directory::{DirectoryOptions, parse_manifests, render_directory, resolve_source_path};
pub use error::RenderError;
pub use manifest::Manifest;
