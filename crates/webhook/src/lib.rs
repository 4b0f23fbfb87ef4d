//! Git push webhooks: which provider sent a request ([`detect`]), whether its signature or token is
//! genuine ([`verify`]), what was pushed ([`parse_push`]), and which Applications that push
//! concerns ([`repo_identity`], [`tracks`]), all pure; and the endpoint that puts them together as
//! an axum router ([`router`]) around a [`PushHandler`] the controller supplies.
//!
//! Supported: GitLab (`X-Gitlab-Token`), GitHub (`X-Hub-Signature-256`), Gitea
//! (`X-Gitea-Signature`), Bitbucket Cloud (`X-Hub-Signature` when a secret is set) and Bitbucket
//! Server / Data Center (`X-Hub-Signature`). Payload shapes follow each provider's documentation.

mod detect;
mod matching;
mod parse;
mod server;
mod verify;

pub use detect::{Event, Provider, detect};
pub use matching::{concerned, repo_identity, tracks};
pub use parse::{ParseError, Push, parse_push};
pub use server::{Outcome, PATH, Pending, PushHandler, router};
pub use verify::{VerifyError, verify};
