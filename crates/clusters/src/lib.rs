//! Destination clusters: the controller's own and those its cluster Secrets describe. For each, a
//! client (every request counted, [`kube_metrics`]), an engine with its discovery, the Helm
//! capabilities, impersonating clients for Applications' ServiceAccounts, and the metadata-only
//! watches of managed kinds that notice drift and index objects by their tracking id.

pub mod cluster_secret;
mod destinations;
pub mod kube_metrics;
mod owned;
mod settle;
mod watches;

pub use destinations::{ClusterError, ClusterTarget, Clusters, Deployer, watch_secrets};
pub use kube_metrics::{counted_client, instrumented_client, observe_requests};
