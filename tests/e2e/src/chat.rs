//! Local stand-ins for the chat services lockstep notifies: each route checks the request the way
//! the real service documents it and answers as it would, recording what it accepted.
//!
//! - Mattermost incoming webhook: `POST /hooks/<key>`, JSON `{"text", "channel"?}` → `200 ok`.
//! - Mattermost API: `POST /api/v4/posts`, `Authorization: Bearer <token>`, JSON
//!   `{"channel_id", "message"}` → `201` with the post.
//! - Telegram Bot API: `POST /bot<token>/sendMessage`, JSON `{"chat_id", "text"}` →
//!   `{"ok": true, "result": {...}}`, or `{"ok": false, ...}` with 400/401.
//! - Slack incoming webhook: `POST /services/<T>/<B>/<X>`, JSON `{"text"}` → `200 ok`.
//! - Generic webhook: `POST /webhook`, checks `X-Lockstep-Signature-256` when a key is set.
//! - `POST /hang`: never answers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One request the stand-in accepted.
#[derive(Clone, Debug)]
pub struct Received {
    /// `mattermost`, `mattermost-api`, `telegram`, `slack` or `webhook`.
    pub service: &'static str,
    /// The request path.
    pub path: String,
    /// The JSON body.
    pub body: Value,
}

impl Received {
    /// The message text, whichever field the service uses.
    pub fn text(&self) -> String {
        ["text", "message"].iter().find_map(|k| self.body.get(*k)?.as_str()).unwrap_or_default().to_string()
    }
}

#[derive(Clone, Default)]
struct Shared {
    accepted: Arc<Mutex<Vec<Received>>>,
    rejected: Arc<Mutex<Vec<String>>>,
    mattermost_token: String,
    telegram_token: String,
    signing_key: String,
}

/// A running stand-in server.
pub struct ChatServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl ChatServer {
    /// Starts the stand-in expecting these Mattermost and Telegram tokens and webhook signing key.
    pub async fn start(mattermost_token: &str, telegram_token: &str, signing_key: &str) -> anyhow::Result<Self> {
        let shared = Shared {
            mattermost_token: mattermost_token.into(),
            telegram_token: telegram_token.into(),
            signing_key: signing_key.into(),
            ..Default::default()
        };
        let router = Router::new()
            .route("/hooks/{key}", post(mattermost_hook))
            .route("/api/v4/posts", post(mattermost_api))
            .route("/{bot}/sendMessage", post(telegram))
            .route("/services/{a}/{b}/{c}", post(slack))
            .route("/webhook", post(webhook))
            .route("/hang", post(hang))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything accepted so far.
    pub fn accepted(&self) -> Vec<Received> {
        self.shared.accepted.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Why requests were rejected (each should be empty in a passing test).
    pub fn rejected(&self) -> Vec<String> {
        self.shared.rejected.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, String> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(format!("Content-Type is {content_type:?}, not application/json"));
    }
    serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))
}

fn reject(shared: &Shared, status: StatusCode, why: String, answer: Value) -> Response {
    if let Ok(mut r) = shared.rejected.lock() {
        r.push(why);
    }
    (status, axum::Json(answer)).into_response()
}

fn accept(shared: &Shared, service: &'static str, path: String, body: Value) {
    if let Ok(mut a) = shared.accepted.lock() {
        a.push(Received { service, path, body });
    }
}

fn non_empty_string(body: &Value, key: &str) -> bool {
    body.get(key).and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

async fn mattermost_hook(
    State(s): State<Shared>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&headers, &body) {
        Ok(b) => b,
        Err(e) => return reject(&s, StatusCode::BAD_REQUEST, format!("mattermost: {e}"), json!({})),
    };
    if !non_empty_string(&body, "text") {
        return reject(
            &s,
            StatusCode::BAD_REQUEST,
            "mattermost: no text".into(),
            json!({"message": "Unable to parse incoming data"}),
        );
    }
    accept(&s, "mattermost", format!("/hooks/{key}"), body);
    (StatusCode::OK, "ok").into_response()
}

async fn mattermost_api(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Bearer {}", s.mattermost_token) {
        return reject(
            &s,
            StatusCode::UNAUTHORIZED,
            format!("mattermost-api: bad Authorization {auth:?}"),
            json!({"status_code": 401}),
        );
    }
    let body = match json_body(&headers, &body) {
        Ok(b) if non_empty_string(&b, "channel_id") && non_empty_string(&b, "message") => b,
        Ok(b) => {
            return reject(&s, StatusCode::BAD_REQUEST, format!("mattermost-api: {b}"), json!({"status_code": 400}));
        }
        Err(e) => {
            return reject(&s, StatusCode::BAD_REQUEST, format!("mattermost-api: {e}"), json!({"status_code": 400}));
        }
    };
    accept(&s, "mattermost-api", "/api/v4/posts".into(), body.clone());
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": "post1", "channel_id": body["channel_id"], "message": body["message"]})),
    )
        .into_response()
}

async fn telegram(State(s): State<Shared>, Path(bot): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if bot != format!("bot{}", s.telegram_token) {
        let answer = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
        return reject(&s, StatusCode::UNAUTHORIZED, format!("telegram: bad token in {bot}"), answer);
    }
    let body = match json_body(&headers, &body) {
        Ok(b) => b,
        Err(e) => return reject(&s, StatusCode::BAD_REQUEST, format!("telegram: {e}"), json!({"ok": false})),
    };
    let chat = body.get("chat_id").is_some_and(|c| c.is_i64() || c.as_str().is_some_and(|s| !s.is_empty()));
    if !chat || !non_empty_string(&body, "text") {
        let answer =
            json!({"ok": false, "error_code": 400, "description": "Bad Request: chat_id and text are required"});
        return reject(&s, StatusCode::BAD_REQUEST, format!("telegram: {body}"), answer);
    }
    accept(&s, "telegram", format!("/{bot}/sendMessage"), body.clone());
    let result = json!({"message_id": 1, "chat": {"id": body["chat_id"]}, "text": body["text"]});
    (StatusCode::OK, axum::Json(json!({"ok": true, "result": result}))).into_response()
}

async fn slack(
    State(s): State<Shared>,
    Path((a, b, c)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match json_body(&headers, &body) {
        Ok(body) if non_empty_string(&body, "text") => {
            accept(&s, "slack", format!("/services/{a}/{b}/{c}"), body);
            (StatusCode::OK, "ok").into_response()
        }
        Ok(_) => reject(&s, StatusCode::BAD_REQUEST, "slack: no_text".into(), json!("no_text")),
        Err(e) => reject(&s, StatusCode::BAD_REQUEST, format!("slack: {e}"), json!("invalid_payload")),
    }
}

async fn webhook(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !s.signing_key.is_empty() {
        let want = format!("sha256={}", crate::http::hmac_hex(s.signing_key.as_bytes(), &body));
        let got = headers.get("x-lockstep-signature-256").and_then(|v| v.to_str().ok()).unwrap_or("");
        if got != want {
            return reject(&s, StatusCode::UNAUTHORIZED, format!("webhook: signature {got:?}"), json!({}));
        }
    }
    match json_body(&headers, &body) {
        Ok(body) => {
            accept(&s, "webhook", "/webhook".into(), body);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => reject(&s, StatusCode::BAD_REQUEST, format!("webhook: {e}"), json!({})),
    }
}

async fn hang() -> Response {
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    StatusCode::OK.into_response()
}
