use std::collections::HashMap;
use std::sync::RwLock;

use kube::Client;
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope, pinned_kind};

use crate::error::{Fault, KindError};

/// What the API server said about a kind: how to address it and whether it is namespaced.
#[derive(Clone, Debug)]
pub struct KindInfo {
    /// Plural, group and version used to build request paths.
    pub resource: ApiResource,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

/// A cache of API discovery, filled on first use of each kind. Misses are not cached, so a CRD
/// installed later is found on the next sync. Lookups of uncached kinds take turns, so the many
/// objects of one kind synced at once ask the API server once.
pub struct ResourceCatalog {
    client: Client,
    kinds: RwLock<HashMap<GroupVersionKind, KindInfo>>,
    asking: tokio::sync::Mutex<()>,
}

impl ResourceCatalog {
    /// An empty catalog asking `client`'s API server.
    pub fn new(client: Client) -> Self {
        Self { client, kinds: RwLock::new(HashMap::new()), asking: tokio::sync::Mutex::new(()) }
    }

    /// Looks a kind up, asking the API server on a miss.
    pub async fn kind(&self, gvk: &GroupVersionKind) -> Result<KindInfo, KindError> {
        if let Some(info) = self.cached(gvk) {
            return Ok(info);
        }
        let _turn = self.asking.lock().await;
        if let Some(info) = self.cached(gvk) {
            return Ok(info);
        }
        let (resource, caps) = pinned_kind(&self.client, gvk).await.map_err(|e| describe(gvk, e))?;
        let info = KindInfo { resource, namespaced: caps.scope == Scope::Namespaced };
        self.kinds.write().unwrap_or_else(|p| p.into_inner()).insert(gvk.clone(), info.clone());
        Ok(info)
    }
}

impl ResourceCatalog {
    fn cached(&self, gvk: &GroupVersionKind) -> Option<KindInfo> {
        self.kinds.read().unwrap_or_else(|p| p.into_inner()).get(gvk).cloned()
    }
}

fn describe(gvk: &GroupVersionKind, err: kube::Error) -> KindError {
    let api_version = if gvk.group.is_empty() { gvk.version.clone() } else { format!("{}/{}", gvk.group, gvk.version) };
    let kind = gvk.kind.clone();
    match err {
        kube::Error::Api(status) if status.code == 404 => KindError::NotServed { api_version, kind },
        kube::Error::Discovery(_) => KindError::NotServed { api_version, kind },
        other => KindError::Lookup {
            api_version,
            kind,
            fault: Fault::of(&other),
            message: lockstep_api::kube_error::one_line(&other),
        },
    }
}
