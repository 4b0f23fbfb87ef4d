//! Repository credentials, Argo CD style: exact `repository` matches, then longest `repo-creds`
//! prefix; and redaction, so no secret value ever reaches a message.

use std::fmt;

use crate::url::normalize_repo_url;

/// What a credential Secret holds. `Debug` shows which keys are set, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User for HTTP basic auth (or the SSH user when the URL names none).
    pub username: Option<String>,
    /// Password or token for HTTP basic auth.
    pub password: Option<String>,
    /// PEM/OpenSSH private key for SSH.
    pub ssh_private_key: Option<String>,
    /// PEM client certificate for TLS (not supported by libgit2's transports: reported, not used).
    pub tls_client_cert_data: Option<String>,
    /// PEM key of the client certificate.
    pub tls_client_cert_key: Option<String>,
    /// PEM CA certificate(s) to trust for this server, in addition to the system's.
    pub ca_data: Option<String>,
    /// Proxy URL, possibly with `user:password@`, overriding the controller's default.
    pub proxy: Option<String>,
    /// Comma-separated hosts (or `.domain` suffixes, or `*`) reached without the proxy.
    pub no_proxy: Option<String>,
    /// Extra `known_hosts` lines for SSH.
    pub known_hosts: Option<String>,
    /// Bearer token for HTTP (Helm repositories; sent instead of basic auth when set).
    pub bearer_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("ssh_private_key", &set(&self.ssh_private_key))
            .field("tls_client_cert_key", &set(&self.tls_client_cert_key))
            .field("ca_data", &set(&self.ca_data))
            .field("bearer_token", &set(&self.bearer_token))
            .field("proxy", &self.proxy.as_deref().map(strip_userinfo))
            .field("no_proxy", &self.no_proxy)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Every secret value in these credentials, for [`redact`].
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> =
            [&self.password, &self.ssh_private_key, &self.tls_client_cert_key, &self.bearer_token]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        if let Some(password) = self.proxy.as_deref().and_then(userinfo_password) {
            secrets.push(password);
        }
        secrets
    }
}

/// Which label a credential Secret carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// `lockstep.dev/secret-type: repository`: matches one repository URL exactly.
    Repository,
    /// `lockstep.dev/secret-type: repo-creds`: matches every URL starting with its `url`.
    RepoCreds,
}

/// One credential Secret, as read from the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSecret {
    /// `namespace/name`, for messages.
    pub origin: String,
    /// Exact match or prefix match.
    pub kind: CredentialKind,
    /// The Secret's `url` key.
    pub url: String,
    /// The rest of its keys.
    pub credentials: Credentials,
}

/// The Secret whose credentials apply to `repo_url`. `scopes` are searched in order (the
/// Application's namespace, then the controller's); within a scope an exact `repository` match wins,
/// then the `repo-creds` with the longest matching prefix.
pub fn select_credentials<'a>(repo_url: &str, scopes: &[&'a [CredentialSecret]]) -> Option<&'a CredentialSecret> {
    let repo = normalize_repo_url(&strip_userinfo(repo_url));
    for secrets in scopes {
        if let Some(exact) = secrets
            .iter()
            .find(|s| s.kind == CredentialKind::Repository && normalize_repo_url(&strip_userinfo(&s.url)) == repo)
        {
            return Some(exact);
        }
        let prefix = secrets
            .iter()
            .filter(|s| s.kind == CredentialKind::RepoCreds && !s.url.trim().is_empty())
            .filter(|s| repo.starts_with(&prefix_form(&s.url)))
            .max_by_key(|s| prefix_form(&s.url).len());
        if prefix.is_some() {
            return prefix;
        }
    }
    None
}

/// A `repo-creds` URL as a prefix: scheme and host lower-cased like repository URLs, but a trailing
/// slash is kept (it marks a directory boundary) and `.git` is not stripped.
fn prefix_form(url: &str) -> String {
    let url = strip_userinfo(url.trim());
    let url = url.as_str();
    let slash = url.ends_with('/');
    let mut normalized = normalize_repo_url(url);
    if url.trim_end_matches('/').ends_with(".git") {
        normalized.push_str(".git");
    }
    if slash {
        normalized.push('/');
    }
    normalized
}

/// Replaces every secret value (and any `user:password@` in URLs) in `message` with `***`.
pub fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(secret.as_str(), "***");
        // Secrets also travel percent-encoded inside URLs.
        let encoded = percent_encode(secret);
        if encoded != *secret {
            out = out.replace(&encoded, "***");
        }
    }
    redact_userinfo(&out)
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…` everywhere in a text.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***@{host}")),
                None => out.push_str(authority),
            },
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A URL without its `user:password@` part, for display and for matching credentials (the user
/// in an `ssh://git@host/…` URL does not make it another repository).
pub fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// The decoded password in a URL's userinfo, if any.
fn userinfo_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(percent_decode(password))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(origin: &str, kind: CredentialKind, url: &str) -> CredentialSecret {
        CredentialSecret { origin: origin.into(), kind, url: url.into(), credentials: Credentials::default() }
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        let app_ns = vec![
            secret("app/org", CredentialKind::RepoCreds, "https://git.local/org"),
            secret("app/team", CredentialKind::RepoCreds, "https://git.local/org/team/"),
        ];
        let controller_ns = vec![
            secret("ctl/exact", CredentialKind::Repository, "https://GIT.local/org/team/app.git"),
            secret("ctl/all", CredentialKind::RepoCreds, "https://git.local/"),
        ];
        let scopes = [app_ns.as_slice(), controller_ns.as_slice()];
        let pick = |url| select_credentials(url, &scopes).map(|s| s.origin.as_str());
        assert_eq!(pick("https://git.local/org/team/app"), Some("app/team"));
        assert_eq!(pick("https://git.local/org/other"), Some("app/org"));
        assert_eq!(pick("https://git.local/elsewhere/x"), Some("ctl/all"));
        assert_eq!(pick("https://other.host/x"), None);
        let only_controller = [controller_ns.as_slice()];
        assert_eq!(
            select_credentials("https://git.local/org/team/app/", &only_controller).map(|s| s.origin.as_str()),
            Some("ctl/exact")
        );
    }

    #[test]
    fn a_slash_prefix_does_not_match_a_longer_name() {
        let scope = vec![secret("a", CredentialKind::RepoCreds, "https://git.local/org/")];
        assert!(select_credentials("https://git.local/organisation/x", &[scope.as_slice()]).is_none());
    }

    #[test]
    fn redaction_hides_values_and_url_passwords() {
        let creds = Credentials {
            password: Some("s3cr=t".into()),
            proxy: Some("http://bob:pr%40xy@proxy:3128".into()),
            ..Default::default()
        };
        let secrets = creds.secrets();
        let message = "auth s3cr=t failed via http://bob:pr%40xy@proxy:3128 and pr@xy and s3cr%3Dt";
        let redacted = redact(message, &secrets);
        assert_eq!(redacted, "auth *** failed via http://bob:***@proxy:3128 and *** and ***");
        assert!(!format!("{creds:?}").contains("s3cr"));
        assert!(!format!("{creds:?}").contains("pr%40xy"));
        assert_eq!(strip_userinfo("https://u:p@h:1/x"), "https://h:1/x");
    }
}
