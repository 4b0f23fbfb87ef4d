//! Sessions: a random id in an HttpOnly, Secure, SameSite=Strict cookie naming, in memory, the
//! user's token (as a client that sends only it), their name, a CSRF token and the expiry. The
//! decisions (cookie text, expiry, CSRF and origin checks) are pure functions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

use crate::events::SharedWatch;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "lockstep_session";

/// One signed-in user.
pub struct Session {
    /// The user's name as the API server's SelfSubjectReview reports it.
    pub user: String,
    /// The token every POST must carry.
    pub csrf: String,
    /// A client sending only the user's bearer token.
    pub client: kube::Client,
    /// When the session ends.
    pub expires_at: Instant,
    /// The session's one Application watch, shared by its open pages.
    pub watch: Mutex<Option<SharedWatch>>,
}

impl Session {
    /// The one identity of local mode: the kubeconfig's own, for as long as the process runs.
    pub fn local(client: kube::Client) -> Self {
        Session {
            user: "kubeconfig (local mode)".into(),
            csrf: random_hex(32),
            client,
            expires_at: Instant::now() + Duration::from_secs(10 * 365 * 24 * 3600),
            watch: Mutex::new(None),
        }
    }
}

/// The sessions of this process, by id.
pub struct Sessions {
    by_id: RwLock<HashMap<String, Arc<Session>>>,
    ttl: Duration,
}

impl Sessions {
    /// No sessions yet; each new one lasts `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { by_id: RwLock::new(HashMap::new()), ttl }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `user`; returns its id (for the cookie).
    pub fn start(&self, user: String, client: kube::Client) -> String {
        self.start_lasting(user, client, self.ttl)
    }

    /// Starts a session for `user` that lasts `lifetime` (shorter than the TTL when the user's
    /// token expires sooner); returns its id.
    pub fn start_lasting(&self, user: String, client: kube::Client, lifetime: Duration) -> String {
        let id = random_hex(32);
        let session = Session {
            user,
            csrf: random_hex(32),
            client,
            expires_at: Instant::now() + lifetime,
            watch: Mutex::new(None),
        };
        let mut by_id = self.by_id.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        by_id.retain(|_, s| is_live(s.expires_at, now));
        by_id.insert(id.clone(), Arc::new(session));
        id
    }

    /// The live session of `id`; an expired one is forgotten.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self.by_id.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).cloned()?;
        if is_live(session.expires_at, Instant::now()) {
            return Some(session);
        }
        self.end(id);
        None
    }

    /// Forgets the session `id`.
    pub fn end(&self, id: &str) {
        self.by_id.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }
}

/// `bytes` random bytes from the thread's CSPRNG, in hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// Whether a session that ends at `expires_at` is still valid at `now`.
pub fn is_live(expires_at: Instant, now: Instant) -> bool {
    now < expires_at
}

/// The `Set-Cookie` value that hands out session `id` for `ttl`.
pub fn session_cookie(id: &str, ttl: Duration) -> String {
    format!("{COOKIE_NAME}={id}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}", ttl.as_secs())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0")
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// Whether the CSRF token a request carries is the session's, compared in constant time.
pub fn csrf_matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Whether the request's `Origin` (else `Referer`), when it carries one, names the host it was sent
/// to: a page of another site cannot post here even with a stolen form.
pub fn origin_allowed(origin: Option<&str>, referer: Option<&str>, host: Option<&str>) -> bool {
    let Some(source) = origin.or(referer) else { return true };
    let Some(host) = host else { return false };
    let Some((_, rest)) = source.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
