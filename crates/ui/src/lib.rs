//! `lockstep ui`: a web UI in a process of its own. Pages are rendered on the server (maud) with a
//! little same-origin script for live badges; every Kubernetes call is made with the signed-in
//! user's own bearer token (or, with `--local`, the caller's kubeconfig), so the API server's RBAC
//! decides what each user sees and may do. Sessions live in memory.
//!
//! Pure decisions have their own modules with unit tests: [`filter`], [`commit_link`], [`mask`],
//! [`session`] (cookie, expiry, CSRF and origin checks), [`object_tree`] and [`diff`]'s line kinds.

mod actions;
mod assets;
pub mod auth;
pub mod cluster_rows;
pub mod commit_link;
pub mod diff;
pub mod events;
pub mod filter;
pub mod live_tree;
mod login;
pub mod mask;
pub mod object_tree;
pub mod oidc;
mod oidc_login;
mod pages;
mod server;
pub mod session;

pub use diff::DiffSource;
pub use server::{CONTENT_SECURITY_POLICY, LoginMode, UiConfig, UiError, serve};
