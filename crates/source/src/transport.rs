//! Pure transport decisions: which proxy a URL goes through, which host and port it names, and
//! whether an SSH host key is the one `known_hosts` records.

use base64::Engine as _;

/// Host and port a repository URL connects to (`None` port: the scheme's default).
pub(crate) fn host_and_port(url: &str) -> Option<(String, Option<u16>)> {
    let authority = match url.split_once("://") {
        Some((_, rest)) => rest.split('/').next()?,
        // scp-like `user@host:path`
        None => url.split_once(':')?.0,
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(inner) = host_port.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((host.to_ascii_lowercase(), port));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if url.contains("://") => Some((host.to_ascii_lowercase(), port.parse().ok())),
        _ => Some((host_port.to_ascii_lowercase(), None)),
    }
}

/// The proxy for `url`: the credential's own proxy (with only its own noProxy) if it has one, else
/// the controller's default (with the default noProxy); none for `file://`, SSH, or listed hosts.
pub(crate) fn proxy_for(
    url: &str,
    credential_proxy: Option<&str>,
    credential_no_proxy: Option<&str>,
    default_proxy: Option<&str>,
    default_no_proxy: Option<&str>,
) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let (proxy, no_proxy) = match credential_proxy.filter(|p| !p.trim().is_empty()) {
        Some(proxy) => (proxy, credential_no_proxy),
        None => (default_proxy.filter(|p| !p.trim().is_empty())?, default_no_proxy),
    };
    let (host, _) = host_and_port(url)?;
    if no_proxy.is_some_and(|list| no_proxy_matches(&host, list)) {
        return None;
    }
    Some(proxy.trim().to_string())
}

/// `NO_PROXY` semantics: `*`, exact hosts, and domain suffixes written `.example.com` or `example.com`.
pub(crate) fn no_proxy_matches(host: &str, list: &str) -> bool {
    list.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).any(|entry| {
        let entry = entry.split(':').next().unwrap_or_default().to_string();
        entry == "*"
            || host == entry.trim_start_matches('.')
            || host.ends_with(&format!(".{}", entry.trim_start_matches('.')))
    })
}

/// What `known_hosts` says about a host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostKeyVerdict {
    /// A line for this host carries exactly this key.
    Known,
    /// The host is listed, but with other keys: possibly an attack.
    Changed,
    /// The host is not listed.
    Unknown,
}

/// Checks a raw SSH host key (the wire blob) against `known_hosts` text. Hosts on a non-default
/// port are written `[host]:port`, as OpenSSH writes them; hashed entries (`|1|salt|hash`, what
/// `HashKnownHosts yes` writes) are matched too.
pub(crate) fn check_host_key(known_hosts: &str, host: &str, port: Option<u16>, key: &[u8]) -> HostKeyVerdict {
    let names: Vec<String> = match port {
        Some(p) if p != 22 => vec![format!("[{host}]:{p}")],
        _ => vec![host.to_string(), format!("[{host}]:22")],
    };
    let mut listed = false;
    for line in known_hosts.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut fields = line.split_whitespace();
        let hosts = fields.next().unwrap_or_default();
        if hosts.starts_with('@') {
            // @cert-authority / @revoked markers are not supported: skip such lines.
            continue;
        }
        let matches =
            hosts.split(',').any(|h| names.iter().any(|n| n.eq_ignore_ascii_case(h) || hashed_host_matches(h, n)));
        if !matches {
            continue;
        }
        listed = true;
        let (Some(_kind), Some(blob)) = (fields.next(), fields.next()) else { continue };
        if base64::engine::general_purpose::STANDARD.decode(blob).is_ok_and(|decoded| decoded == key) {
            return HostKeyVerdict::Known;
        }
    }
    if listed { HostKeyVerdict::Changed } else { HostKeyVerdict::Unknown }
}

/// `|1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>` as OpenSSH hashes host names.
fn hashed_host_matches(entry: &str, name: &str) -> bool {
    let Some(rest) = entry.strip_prefix("|1|") else { return false };
    let Some((salt, hash)) = rest.split_once('|') else { return false };
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else { return false };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(host_and_port("https://u:p@Git.Local:8443/x"), Some(("git.local".into(), Some(8443))));
        assert_eq!(host_and_port("ssh://git@127.0.0.1:2222/r.git"), Some(("127.0.0.1".into(), Some(2222))));
        assert_eq!(host_and_port("git@github.com:org/r.git"), Some(("github.com".into(), None)));
        assert_eq!(host_and_port("ssh://[::1]:2222/r"), Some(("::1".into(), Some(2222))));
    }

    #[test]
    fn proxy_choice() {
        let url = "https://git.example.com/r";
        assert_eq!(proxy_for(url, None, None, Some("http://p:3128"), None).as_deref(), Some("http://p:3128"));
        assert_eq!(
            proxy_for(url, Some("http://own:1"), None, Some("http://p:3128"), None).as_deref(),
            Some("http://own:1")
        );
        assert_eq!(proxy_for(url, None, None, Some("http://p:3128"), Some("localhost,.example.com")), None);
        assert_eq!(proxy_for(url, Some("http://own:1"), Some("git.example.com"), None, None), None);
        assert_eq!(proxy_for("ssh://git@h/r", None, None, Some("http://p:3128"), None), None);
        assert_eq!(proxy_for("file:///r", None, None, Some("http://p:3128"), None), None);
        assert!(no_proxy_matches("a.b.c", "*"));
        assert!(!no_proxy_matches("notexample.com", "example.com"));
    }

    #[test]
    fn host_keys() {
        let key = b"\x00\x00\x00\x0bssh-ed25519key-bytes";
        let blob = base64::engine::general_purpose::STANDARD.encode(key);
        let known =
            format!("# comment\nother.host ssh-ed25519 AAAA\n[127.0.0.1]:2222,[localhost]:2222 ssh-ed25519 {blob}\n");
        assert_eq!(check_host_key(&known, "127.0.0.1", Some(2222), key), HostKeyVerdict::Known);
        assert_eq!(check_host_key(&known, "127.0.0.1", Some(2222), b"other"), HostKeyVerdict::Changed);
        assert_eq!(check_host_key(&known, "127.0.0.1", Some(22), key), HostKeyVerdict::Unknown);
        assert_eq!(check_host_key(&known, "other.host", None, key), HostKeyVerdict::Changed);
    }

    #[test]
    fn hashed_host_names() {
        // `ssh-keygen -H` output for [127.0.0.1]:2222 with this salt.
        let salt = [7u8; 20];
        let hmac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt),
            b"[127.0.0.1]:2222",
        );
        let engine = base64::engine::general_purpose::STANDARD;
        let key = b"raw-key";
        let known =
            format!("|1|{}|{} ssh-ed25519 {}\n", engine.encode(salt), engine.encode(hmac.as_ref()), engine.encode(key));
        assert_eq!(check_host_key(&known, "127.0.0.1", Some(2222), key), HostKeyVerdict::Known);
        assert_eq!(check_host_key(&known, "127.0.0.1", Some(2222), b"other"), HostKeyVerdict::Changed);
        assert_eq!(check_host_key(&known, "127.0.0.2", Some(2222), key), HostKeyVerdict::Unknown);
    }
}
