//! Asynchronous delivery: a bounded queue per service drained by a task that posts each message with
//! a timeout and retries, several at once, so a slow or dead chat service never holds up anything else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use crate::service::HttpRequest;

/// One message to post.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Service name (for logs) and kind (for metrics).
    pub service: String,
    /// `mattermost`, `telegram`, `slack` or `webhook`.
    pub kind: &'static str,
    /// The request.
    pub request: HttpRequest,
}

/// Called once per delivery with its kind and final result: `success`, `failure` or `dropped`.
pub type Report = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// Delivery tuning.
#[derive(Clone, Copy, Debug)]
pub struct OutboxOptions {
    /// Messages waiting at most per service; more are dropped (and reported).
    pub capacity: usize,
    /// Messages in flight at once per service.
    pub concurrency: usize,
    /// Time limit of one attempt.
    pub timeout: Duration,
    /// Attempts per message.
    pub attempts: u32,
    /// Wait before the second attempt; doubles after each.
    pub backoff: Duration,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            capacity: 1000,
            concurrency: 8,
            timeout: Duration::from_secs(10),
            attempts: 4,
            backoff: Duration::from_secs(1),
        }
    }
}

/// The sending side: one bounded queue and worker per service, so a slow or dead service only
/// ever delays its own messages.
#[derive(Clone)]
pub struct Outbox {
    queues: Arc<Mutex<HashMap<String, mpsc::Sender<Delivery>>>>,
    depth: Arc<AtomicUsize>,
    report: Report,
    options: OutboxOptions,
    client: HttpsClient,
}

/// reqwest over rustls with the system's CA certificates (or why it could not be built). It takes
/// `HTTPS_PROXY`/`NO_PROXY` from the environment, and follows no redirects.
type HttpsClient = Result<reqwest::Client, String>;

impl Outbox {
    /// An outbox whose workers run on the current runtime (started per service on first use).
    pub fn start(options: OutboxOptions, report: Report) -> Self {
        Self { queues: Arc::default(), depth: Arc::default(), report, options, client: https_client() }
    }

    /// Queues a message; when its service's queue is full it is dropped and reported, never awaited.
    pub fn enqueue(&self, delivery: Delivery) {
        let kind = delivery.kind;
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            queues.entry(delivery.service.clone()).or_insert_with(|| self.worker()).clone()
        };
        match queue.try_send(delivery) {
            Ok(()) => {
                self.depth.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                warn!(%err, "notification queue full or closed; message dropped");
                (self.report)(kind, "dropped");
            }
        }
    }

    /// Messages waiting for a delivery slot, over all services.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Starts the worker of one service's queue.
    fn worker(&self) -> mpsc::Sender<Delivery> {
        let options = self.options;
        let (queue, mut receiver) = mpsc::channel::<Delivery>(options.capacity.max(1));
        let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let waiting = self.depth.clone();
        let report = self.report.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            while let Some(delivery) = receiver.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                waiting.fetch_sub(1, Ordering::Relaxed);
                let client = client.clone();
                let report = report.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let kind = delivery.kind;
                    let result =
                        if send_with_retries(&client, &delivery, options).await { "success" } else { "failure" };
                    report(kind, result);
                });
            }
        });
        queue
    }
}

/// The most of a response body read: enough for a chat service's error message.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

fn https_client() -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        warn!(%err, "reading system CA certificates");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        warn!(
            "no system CA certificates found (install the ca-certificates package, or set SSL_CERT_FILE); \
             notifications to HTTPS services will fail certificate checks"
        );
    }
    debug!(added, "system CA certificates for notifications");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // ring supports the default protocol versions; this branch is unreachable in practice.
        Err(err) => {
            warn!(%err, "TLS setup for notifications; using TLS 1.3 only");
            rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| format!("setting up the HTTPS client for notifications: {}", err.without_url()))
}

async fn send_with_retries(client: &HttpsClient, delivery: &Delivery, options: OutboxOptions) -> bool {
    let mut wait = options.backoff;
    for attempt in 1..=options.attempts.max(1) {
        match tokio::time::timeout(options.timeout, send_once(client, &delivery.request)).await {
            Ok(Ok(())) => {
                debug!(service = %delivery.service, attempt, "notification delivered");
                return true;
            }
            Ok(Err(err)) => warn!(service = %delivery.service, attempt, %err, "notification failed"),
            Err(_) => warn!(service = %delivery.service, attempt, timeout = ?options.timeout, "notification timed out"),
        }
        if attempt < options.attempts {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    false
}

async fn send_once(client: &HttpsClient, request: &HttpRequest) -> Result<(), String> {
    let client = client.as_ref().map_err(Clone::clone)?;
    let mut builder =
        client.post(&request.url).header(http::header::CONTENT_TYPE, "application/json").body(request.body.clone());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    // reqwest's errors name the URL, whose path may hold a token: only the host is shown.
    let response = builder.send().await.map_err(|e| format!("{}: {}", redact_url(&request.url), e.without_url()))?;
    let status = response.status();
    // Only the start of an error body is quoted; a service that streams more is not read further.
    let body = body_start(response, MAX_RESPONSE_BODY).await;
    if status.is_success() {
        Ok(())
    } else {
        let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        Err(format!("{} answered {status}: {text}", redact_url(&request.url)))
    }
}

/// At most `max` bytes from the start of the response's body; the rest is never read.
async fn body_start(mut response: reqwest::Response, max: usize) -> Vec<u8> {
    let mut start = Vec::new();
    while start.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => start.extend_from_slice(&chunk),
            _ => break,
        }
    }
    start.truncate(max);
    start
}

/// The URL without its path (which may hold a token, as Telegram's and incoming webhooks' do).
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}/…", rest.split('/').next().unwrap_or("")),
        None => "…".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_endless_error_body_is_read_only_to_the_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n";
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192));
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        let request = HttpRequest { url: format!("http://{addr}/hook"), headers: Vec::new(), body: b"{}".to_vec() };
        let sent = tokio::time::timeout(Duration::from_secs(10), send_once(&https_client(), &request)).await;
        let err = sent.expect("returns without reading the whole body").expect_err("a 500 is an error");
        assert!(err.contains("answered 500") && err.contains("xxxx"), "{err}");
    }

    #[test]
    fn urls_are_redacted_to_their_host() {
        assert_eq!(redact_url("https://api.telegram.org/bot123:SECRET/sendMessage"), "https://api.telegram.org/…");
    }
}
