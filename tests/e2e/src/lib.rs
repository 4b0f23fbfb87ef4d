//! Shared harness for end-to-end tests: the real control plane from `cargo xtask cluster up`, real
//! git repositories on disk, and the real `lockstep` binary run as a separate process.
//!
//! Each test creates its own namespace and its own controller watching only that namespace, so tests
//! run in parallel against one control plane without seeing each other.

pub mod apps;
pub mod browser;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod configmaps;
pub mod controller;
pub mod controlplane;
pub mod faultproxy;
pub mod git;
pub mod gitserver;
pub mod helmrepo;
pub mod http;
pub mod namespace;
pub mod oidc;
pub mod registry;
pub mod remote;
pub mod secrets;
pub mod signing;
pub mod sops;
pub mod sops_pgp;
pub mod ui;
pub mod wait;

pub use cluster::{client, kubectl, workspace_root};
pub use controller::ControllerProcess;
pub use git::GitRepo;
pub use namespace::TestNamespace;
pub use wait::wait_for;
