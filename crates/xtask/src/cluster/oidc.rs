//! The API server trusts one OIDC issuer, for the web UI's sign-in tests: a structured
//! `--authentication-config` with a JWT authenticator for `https://127.0.0.1:<port>`, a port chosen
//! at start and served by nothing until a test starts its provider there (tests/oidc, with the
//! serving certificate the cluster's CA signed). The API server fetches the issuer's keys in the
//! background and retries, so an issuer that is down costs nothing: the cluster starts and every
//! other authenticator works. What a test needs to serve the issuer is in `pki/oidc-issuer.json`.

use std::fs;

use anyhow::{Context, Result};

use super::Layout;
use crate::certs::Pki;

/// Part of the cluster's build fingerprint: a cluster started without the OIDC issuer (or with
/// another configuration) is restarted by `up` rather than reused.
pub(super) const LAYOUT: &str = "oidc1";

/// The client id of the UI at the issuer; the API server accepts ID tokens with this audience.
const CLIENT_ID: &str = "lockstep-ui";

/// ID tokens' `sub` claim, prefixed, is the user's name (`oidc:alice`); `groups`, when the token
/// has it, the groups (`oidc:team-a`).
const PREFIX: &str = "oidc:";

fn config_path(layout: &Layout) -> std::path::PathBuf {
    layout.pki.join("oidc-authentication.yaml")
}

/// The AuthenticationConfiguration for the issuer at `issuer`, trusting `ca_pem` for its TLS.
fn authentication_config(issuer: &str, ca_pem: &str) -> String {
    let ca: String = ca_pem.lines().map(|line| format!("      {line}\n")).collect();
    format!(
        "apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: {issuer}
    audiences: [{CLIENT_ID}]
    certificateAuthority: |
{ca}  claimMappings:
    username:
      claim: sub
      prefix: \"{PREFIX}\"
    groups:
      claim: groups
      prefix: \"{PREFIX}\"
"
    )
}

/// Writes the authentication configuration and `oidc-issuer.json` (issuer URL, listen address,
/// serving certificate and key and its public key's hash, CA, client id, user prefix) for an
/// issuer on `port`.
pub(super) fn write(layout: &Layout, pki: &Pki, port: u16) -> Result<()> {
    let issuer = format!("https://127.0.0.1:{port}");
    let path = config_path(layout);
    fs::write(&path, authentication_config(&issuer, &pki.ca_cert_pem))
        .with_context(|| format!("writing {}", path.display()))?;
    let info = serde_json::json!({
        "issuer": issuer,
        "listen": format!("127.0.0.1:{port}"),
        "tlsCert": pki.oidc_cert,
        "tlsKey": pki.oidc_key,
        "ca": pki.ca_cert,
        "spkiSha256": pki.oidc_spki_sha256,
        "clientId": CLIENT_ID,
        "userPrefix": PREFIX,
    });
    let info_path = layout.pki.join("oidc-issuer.json");
    fs::write(&info_path, serde_json::to_string_pretty(&info)?)
        .with_context(|| format!("writing {}", info_path.display()))
}

/// The API server's flag naming the configuration.
pub(super) fn apiserver_args(layout: &Layout) -> Vec<String> {
    vec![format!("--authentication-config={}", config_path(layout).display())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_trusts_the_issuer_with_the_ui_audience_and_prefixed_names() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n";
        let text = authentication_config("https://127.0.0.1:4443", pem);
        assert!(text.contains("    url: https://127.0.0.1:4443\n    audiences: [lockstep-ui]\n"), "{text}");
        assert!(text.contains("    certificateAuthority: |\n      -----BEGIN CERTIFICATE-----\n      AAA\n"), "{text}");
        assert!(
            text.contains("  claimMappings:\n    username:\n      claim: sub\n      prefix: \"oidc:\"\n"),
            "{text}"
        );
    }
}
