//! OIDC sign-in: the issuer's discovery document (kept fresh in the background, never waited for
//! by the sign-in page, never needed to start the server or to sign in with a token), the authorization-code flow with PKCE, state and nonce,
//! and the ID token's checks. The ID token then becomes the session's bearer token, so the API
//! server must trust the same issuer (its `--authentication-config` JWT authenticator).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse as _,
};

/// How `lockstep ui` talks to the identity provider.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// The issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// The UI's client id (also the audience the API server expects in ID tokens).
    pub client_id: String,
    /// The client's secret.
    pub client_secret: String,
    /// Where the issuer sends the browser back: this UI's `/oidc/callback`.
    pub redirect_url: String,
    /// Scopes asked for beside `openid`.
    pub scopes: Vec<String>,
    /// PEM CA certificates trusted for the issuer, beside the system's.
    pub ca_file: Option<PathBuf>,
}

/// Why OIDC sign-in could not go on.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A setting is not a usable URL or file.
    #[error("OIDC settings: {0}")]
    Settings(String),
    /// The issuer could not be reached or answered nonsense.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The browser came back without a sign-in this UI started (or after it expired).
    #[error("this sign-in was not started here or took too long; start again")]
    UnknownState,
    /// The issuer refused the sign-in or the code.
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The ID token failed a check (signature, issuer, audience, expiry, nonce).
    #[error("the ID token is not valid: {0}")]
    InvalidToken(String),
}

/// How long a started sign-in may take before its callback is refused.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// How often the discovery document (and the issuer's keys) is fetched again while it answers:
/// often enough that the sign-in page stops offering SSO soon after the issuer goes down.
const DISCOVERY_TTL: Duration = Duration::from_secs(15);

/// How often an issuer that did not answer is asked again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// The longest a discovery or token request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The most sign-ins waiting for their callback; the oldest are dropped beyond it.
const MAX_PENDING: usize = 10_000;

/// The name of the cookie binding a started sign-in to the browser that started it.
pub const STATE_COOKIE: &str = "lockstep_oidc_state";

/// A sign-in started here and waiting for the issuer to send the browser back.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    started: Instant,
}

/// What the last discovery found.
enum Discovery {
    Unknown,
    Found { metadata: Box<CoreProviderMetadata>, at: Instant },
    Failed { reason: String },
}

/// The OIDC side of the UI: settings, the issuer's HTTP client, the cached discovery and the
/// sign-ins in flight.
pub struct Oidc {
    settings: OidcSettings,
    redirect: RedirectUrl,
    issuer: IssuerUrl,
    http: reqwest::Client,
    discovery: Mutex<Discovery>,
    pending: Mutex<HashMap<String, Pending>>,
}

/// A signed-in OIDC user: the raw ID token (the bearer for the API server) and when it expires.
pub struct SignedIn {
    /// The ID token as issued.
    pub id_token: String,
    /// How long it stays valid.
    pub valid_for: Duration,
}

/// Whether the issuer can be used for sign-in now, as the sign-in page shows it.
pub enum Availability {
    /// The first discovery has not finished yet (the button is offered; pressing it asks).
    Checking,
    /// Discovery succeeded.
    Available,
    /// It failed, with the reason.
    Unavailable(String),
}

impl Oidc {
    /// Checks the settings (URLs, the CA file) without contacting the issuer.
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|err| OidcError::Settings(format!("issuer URL {:?}: {err}", settings.issuer)))?;
        let redirect = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|err| OidcError::Settings(format!("redirect URL {:?}: {err}", settings.redirect_url)))?;
        let http = http_client(settings.ca_file.as_deref())?;
        Ok(Self {
            settings,
            redirect,
            issuer,
            http,
            discovery: Mutex::new(Discovery::Unknown),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The issuer URL, as configured.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The UI's client id (the audience of its ID tokens).
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    /// Whether sign-in through the issuer can start, as last found out: never waits for the
    /// issuer, so the sign-in page is as quick with the issuer down as up.
    pub fn availability(&self) -> Availability {
        match &*self.discovery.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Discovery::Unknown => Availability::Checking,
            Discovery::Found { .. } => Availability::Available,
            Discovery::Failed { reason, .. } => Availability::Unavailable(reason.clone()),
        }
    }

    /// Keeps the discovery document fresh in the background: every [`DISCOVERY_TTL`] while the
    /// issuer answers, every [`RETRY_AFTER_FAILURE`] while it does not. Ends with the server.
    pub fn spawn_refresher(self: &Arc<Self>) {
        let oidc = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(strong) = oidc.upgrade() else { return };
                let pause = if strong.discover().await.is_ok() { DISCOVERY_TTL } else { RETRY_AFTER_FAILURE };
                drop(strong);
                tokio::time::sleep(pause).await;
            }
        });
    }

    /// The discovery document: the cached one while fresh, else fetched now.
    async fn metadata(&self) -> Result<CoreProviderMetadata, OidcError> {
        if let Discovery::Found { metadata, at } =
            &*self.discovery.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
            && at.elapsed() < DISCOVERY_TTL + RETRY_AFTER_FAILURE
        {
            return Ok((**metadata).clone());
        }
        self.discover().await
    }

    /// Fetches the discovery document and the issuer's keys, and records the outcome.
    async fn discover(&self) -> Result<CoreProviderMetadata, OidcError> {
        let fetched = tokio::time::timeout(
            REQUEST_TIMEOUT,
            CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http),
        )
        .await;
        let result = match fetched {
            Ok(Ok(metadata)) => Ok(metadata),
            Ok(Err(err)) => Err(error_chain(&err)),
            Err(_) => Err(format!("no answer from {} within {}s", self.settings.issuer, REQUEST_TIMEOUT.as_secs())),
        };
        let mut discovery = self.discovery.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = Instant::now();
        match result {
            Ok(metadata) => {
                if !matches!(*discovery, Discovery::Found { .. }) {
                    tracing::info!(issuer = %self.settings.issuer, "OIDC issuer found");
                }
                *discovery = Discovery::Found { metadata: Box::new(metadata.clone()), at };
                Ok(metadata)
            }
            Err(reason) => {
                tracing::warn!(issuer = %self.settings.issuer, %reason, "OIDC discovery failed");
                *discovery = Discovery::Failed { reason: reason.clone() };
                Err(OidcError::Unavailable(reason))
            }
        }
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a sign-in: the issuer's authorization URL to send the browser to, and the state
    /// value to bind to the browser in [`STATE_COOKIE`].
    pub async fn start(&self) -> Result<(String, String), OidcError> {
        let client = self.client(self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        pending.retain(|_, p| now.duration_since(p.started) < PENDING_TTL);
        if pending.len() >= MAX_PENDING
            && let Some(oldest) = pending.iter().min_by_key(|(_, p)| p.started).map(|(k, _)| k.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(state.secret().clone(), Pending { verifier, nonce, started: now });
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes a sign-in: `state` must be one this UI started (and the browser's cookie must
    /// carry it, which the caller checks), `code` is exchanged with the PKCE verifier, and the ID
    /// token is checked (signature, issuer, audience, expiry, nonce).
    pub async fn finish(&self, state: &str, code: &str) -> Result<SignedIn, OidcError> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(state)
            .filter(|p| p.started.elapsed() < PENDING_TTL)
            .ok_or(OidcError::UnknownState)?;
        let client = self.client(self.metadata().await?);
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|err| OidcError::Unavailable(format!("the issuer has no token endpoint: {err}")))?
            .set_pkce_verifier(pending.verifier);
        let token = tokio::time::timeout(REQUEST_TIMEOUT, request.request_async(&self.http))
            .await
            .map_err(|_| OidcError::Unavailable("the token request timed out".into()))?
            .map_err(|err| OidcError::Refused(error_chain(&err)))?;
        let id_token =
            token.id_token().ok_or_else(|| OidcError::Refused("the token response has no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &pending.nonce)
            .map_err(|err| OidcError::InvalidToken(error_chain(&err)))?;
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let expires = u64::try_from(claims.expiration().timestamp()).unwrap_or_default();
        let valid_for = Duration::from_secs(expires.saturating_sub(now));
        if valid_for.is_zero() {
            return Err(OidcError::InvalidToken("it has expired".into()));
        }
        Ok(SignedIn { id_token: id_token.to_string(), valid_for })
    }
}

/// An error and its sources on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

/// The issuer's HTTPS client: the system's CA certificates plus `ca_file`'s, no redirects
/// followed (the OAuth 2.0 requests must not be redirected), short timeouts.
fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, OidcError> {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|err| OidcError::Settings(format!("reading the CA file {}: {err}", path.display())))?;
        if certs.is_empty() {
            return Err(OidcError::Settings(format!("the CA file {} holds no certificate", path.display())));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(OidcError::Settings(format!("no usable certificate in {}", path.display())));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| OidcError::Settings(format!("TLS setup: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|err| OidcError::Settings(format!("the issuer's HTTP client: {err}")))
}

/// The `Set-Cookie` value binding a started sign-in to this browser. `SameSite=Lax`, not
/// `Strict`: the issuer sends the browser back with a cross-site top-level navigation, which
/// must carry it. Only the callback's path sees it.
pub fn state_cookie(state: &str) -> String {
    format!("{STATE_COOKIE}={state}; HttpOnly; Secure; SameSite=Lax; Path=/oidc; Max-Age={}", PENDING_TTL.as_secs())
}

/// The `Set-Cookie` value removing the state cookie.
pub fn cleared_state_cookie() -> String {
    format!("{STATE_COOKIE}=; HttpOnly; Secure; SameSite=Lax; Path=/oidc; Max-Age=0")
}

/// The redirect URL when none is given: `/oidc/callback` under the UI's public URL, else under
/// the listen address (`localhost` for an unspecified one).
pub fn default_redirect_url(ui_url: Option<&str>, listen: std::net::SocketAddr) -> String {
    if let Some(base) = ui_url {
        return format!("{}/oidc/callback", base.trim_end_matches('/'));
    }
    let host = if listen.ip().is_unspecified() { "localhost".to_owned() } else { listen.ip().to_string() };
    let host = if listen.is_ipv6() && !listen.ip().is_unspecified() { format!("[{host}]") } else { host };
    format!("http://{host}:{}/oidc/callback", listen.port())
}

/// How long a session started with a token valid for `token_valid_for` lasts: the configured
/// `ttl`, but never past the token's own expiry (the API server would refuse it from then on).
pub fn session_lifetime(ttl: Duration, token_valid_for: Duration) -> Duration {
    ttl.min(token_valid_for)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
