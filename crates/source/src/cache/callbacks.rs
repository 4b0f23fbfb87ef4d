//! libgit2 callbacks for one connection (credentials, host keys, the deadline) and the translation
//! of libgit2 errors into precise [`SourceError`]s using what those callbacks saw.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use git2::{CertificateCheckStatus, Cred, CredentialType, ErrorClass, ErrorCode, RemoteCallbacks};

use super::request::Endpoint;
use super::tls::verify_server_certificate;
use crate::credentials::redact;
use crate::error::SourceError;
use crate::transport::{HostKeyVerdict, check_host_key, host_and_port};

#[derive(Default)]
pub(super) struct CallbackState {
    auth_attempts: u32,
    auth_problem: Option<String>,
    host_key: Option<(String, HostKeyVerdict)>,
    /// Why the repository's own `caData` did not vouch for the server's certificate.
    tls_problem: Option<String>,
    timed_out: bool,
}

/// Credentials, host key and `caData` checking and the deadline, for one connection to `endpoint`.
pub(super) fn callbacks<'a>(
    endpoint: &'a Endpoint,
    known_hosts: &'a str,
    deadline: Instant,
    observed: Rc<RefCell<CallbackState>>,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let creds = &endpoint.credentials;
    let port = host_and_port(&endpoint.url).and_then(|(_, port)| port);
    let seen = observed.clone();
    callbacks.credentials(move |_url, user_from_url, allowed| {
        let user = user_from_url.or(creds.username.as_deref()).unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME)
            && !allowed.intersects(CredentialType::SSH_KEY | CredentialType::USER_PASS_PLAINTEXT)
        {
            return Cred::username(user);
        }
        let mut seen = seen.borrow_mut();
        seen.auth_attempts += 1;
        if seen.auth_attempts > 1 {
            seen.auth_problem = Some("the server rejected the credentials".into());
            return Err(git2::Error::from_str("the server rejected the credentials"));
        }
        if allowed.contains(CredentialType::SSH_KEY)
            && let Some(key) = &creds.ssh_private_key
        {
            return Cred::ssh_key_from_memory(user, None, key, None).map_err(|e| {
                seen.auth_problem = Some(format!("the sshPrivateKey could not be used: {}", e.message()));
                git2::Error::from_str("unusable sshPrivateKey")
            });
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(password) = &creds.password
        {
            return Cred::userpass_plaintext(creds.username.as_deref().or(user_from_url).unwrap_or("git"), password);
        }
        seen.auth_problem = Some("the server wants credentials and no credential Secret matches this URL".into());
        Err(git2::Error::from_str("no credentials"))
    });
    let seen = observed.clone();
    callbacks.certificate_check(move |cert, host| {
        if let Some(x509) = cert.as_x509() {
            // libgit2 has judged the certificate against the system's CAs; this repository's own
            // caData may vouch for it too, for this connection only. Otherwise libgit2's verdict holds.
            let Some(ca) = creds.ca_data.as_deref() else { return Ok(CertificateCheckStatus::CertificatePassthrough) };
            return match verify_server_certificate(ca, x509.data(), host) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(problem) => {
                    seen.borrow_mut().tls_problem = Some(problem);
                    Ok(CertificateCheckStatus::CertificatePassthrough)
                }
            };
        }
        let Some(hostkey) = cert.as_hostkey() else { return Ok(CertificateCheckStatus::CertificatePassthrough) };
        let verdict = match hostkey.hostkey() {
            Some(raw) => check_host_key(known_hosts, host, port, raw),
            None => HostKeyVerdict::Unknown,
        };
        if verdict == HostKeyVerdict::Known {
            return Ok(CertificateCheckStatus::CertificateOk);
        }
        seen.borrow_mut().host_key = Some((host.to_string(), verdict));
        Err(git2::Error::from_str("host key not trusted"))
    });
    let seen = observed.clone();
    callbacks.transfer_progress(move |_| {
        let in_time = Instant::now() < deadline;
        if !in_time {
            seen.borrow_mut().timed_out = true;
        }
        in_time
    });
    callbacks.sideband_progress(move |_| {
        let in_time = Instant::now() < deadline;
        if !in_time {
            observed.borrow_mut().timed_out = true;
        }
        in_time
    });
    callbacks
}

/// Turns a libgit2 error into the precise kind, using what the callbacks observed first.
pub(super) fn classify(
    repo: &str,
    err: &git2::Error,
    seen: &CallbackState,
    secrets: &[String],
    timeout: Duration,
) -> SourceError {
    let repo = repo.to_string();
    let message = redact(err.message(), secrets);
    if seen.timed_out {
        return SourceError::Timeout { repo, seconds: timeout.as_secs() };
    }
    if let Some((host, verdict)) = &seen.host_key {
        let message = match verdict {
            HostKeyVerdict::Changed => "the host key differs from the one in known hosts (possible attack); \
                                        update ConfigMap lockstep-ssh-known-hosts if the key really changed"
                .to_string(),
            _ => "the host key is not in known hosts; add it to ConfigMap lockstep-ssh-known-hosts \
                  or the credential's knownHosts"
                .to_string(),
        };
        return SourceError::HostKey { repo, host: host.clone(), message };
    }
    if let Some(problem) = &seen.auth_problem {
        return SourceError::AuthenticationFailed { repo, message: problem.clone() };
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("407") || (lower.contains("proxy") && lower.contains("auth")) {
        return SourceError::ProxyAuthenticationFailed { repo, message };
    }
    if err.code() == ErrorCode::Auth || lower.contains("401") || lower.contains("authentication") {
        return SourceError::AuthenticationFailed { repo, message };
    }
    if err.code() == ErrorCode::Certificate
        || err.class() == ErrorClass::Ssl
        || lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("ssl")
    {
        let message = match &seen.tls_problem {
            Some(problem) => format!("{message}; {problem}"),
            None => message,
        };
        return SourceError::Tls { repo, message };
    }
    if lower.contains("404")
        || lower.contains("could not find repository")
        || lower.contains("failed to resolve path")
        || lower.contains("not a git repository")
        || lower.contains("does not appear to be a git repository")
        || lower.contains("content-type")
        || lower.contains("not valid: is this a git repository")
    {
        return SourceError::NotARepository { repo, message };
    }
    SourceError::Unreachable { repo, message }
}
