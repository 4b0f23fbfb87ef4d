//! Who writes to the destination: the Application's ServiceAccount, impersonated, when its project
//! (`destinationServiceAccounts`) or the controller's `--default-service-account` names one;
//! otherwise the controller itself. Syncs and deletions resolve it the same way.

use std::sync::Arc;

use lockstep_api::Application;
use lockstep_policy::impersonation::{ServiceAccount, service_account};
use lockstep_policy::project::Project;

use crate::context::Context;
use lockstep_clusters::{ClusterTarget, Deployer};

/// The ServiceAccount to impersonate for `app` in `namespace`, and its client; `(None, None)` when
/// the controller writes with its own identity. The error says why impersonation is impossible.
pub(crate) async fn deployer_for(
    app: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    project: &Project,
    namespace: &str,
) -> Result<(Option<ServiceAccount>, Option<Arc<Deployer>>), String> {
    let default_account = ctx.config.default_service_account.as_deref();
    let Some(account) = service_account(&app.spec, project, &target.identity, namespace, default_account) else {
        return Ok((None, None));
    };
    let deployer = target.impersonating(&account).await?;
    Ok((Some(account), Some(deployer)))
}
