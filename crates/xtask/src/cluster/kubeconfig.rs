//! The admin kubeconfig a cluster writes (the public contract of `cluster up`).

use crate::certs::{self, Pki};

/// The admin kubeconfig for the API server on `port`; context `lockstep-NAME`.
pub(super) fn kubeconfig(name: &str, port: u16, pki: &Pki) -> String {
    let context = format!("lockstep-{name}");
    let ca = certs::base64(pki.ca_cert_pem.as_bytes());
    let cert = certs::base64(pki.admin_cert_pem.as_bytes());
    let key = certs::base64(pki.admin_key_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {ca}
users:
- name: {context}-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: {context}
  context:
    cluster: {context}
    user: {context}-admin
    namespace: default
current-context: {context}
preferences: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn kubeconfig_names_the_context() {
        let dir = std::env::temp_dir().join(format!("xtask-kubeconfig-test-{}", std::process::id()));
        let pki = certs::generate(&dir).unwrap();
        let text = kubeconfig("remote", 1234, &pki);
        assert!(text.contains("current-context: lockstep-remote\n"));
        assert!(text.contains("server: https://127.0.0.1:1234\n"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
