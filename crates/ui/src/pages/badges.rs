//! Health and sync badges with Argo CD's colours and icons (the colours live in the stylesheet, by
//! class), as inline SVG, and the `<template>`s the page script clones when a status changes.

use lockstep_api::{HealthStatusCode, SyncStatusCode};
use maud::{Markup, PreEscaped, html};

/// Every health code, for the templates and the filter's choices.
pub(crate) const HEALTH_CODES: [HealthStatusCode; 6] = [
    HealthStatusCode::Healthy,
    HealthStatusCode::Progressing,
    HealthStatusCode::Degraded,
    HealthStatusCode::Suspended,
    HealthStatusCode::Missing,
    HealthStatusCode::Unknown,
];

/// Every sync code.
pub(crate) const SYNC_CODES: [SyncStatusCode; 3] =
    [SyncStatusCode::Synced, SyncStatusCode::OutOfSync, SyncStatusCode::Unknown];

/// The health badge: icon and word, class `health-badge health-<Code>`.
pub(crate) fn health(code: HealthStatusCode) -> Markup {
    let icon = match code {
        HealthStatusCode::Healthy => HEART,
        HealthStatusCode::Progressing => CIRCLE_NOTCH,
        HealthStatusCode::Degraded => HEART_BROKEN,
        HealthStatusCode::Suspended => PAUSE,
        HealthStatusCode::Missing => GHOST,
        HealthStatusCode::Unknown => QUESTION,
    };
    badge("health", &code.to_string(), icon)
}

/// The sync badge: icon and word, class `sync-badge sync-<Code>`.
pub(crate) fn sync(code: SyncStatusCode) -> Markup {
    let icon = match code {
        SyncStatusCode::Synced => CHECK_CIRCLE,
        SyncStatusCode::OutOfSync => ARROW_CIRCLE_UP,
        SyncStatusCode::Unknown => QUESTION,
    };
    badge("sync", &code.to_string(), icon)
}

fn badge(family: &str, code: &str, icon: &str) -> Markup {
    html! {
        span class=(format!("badge {family}-badge {family}-{code}")) data-status=(code) {
            svg.icon viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false" { (PreEscaped(icon)) }
            span.label { (code) }
        }
    }
}

/// One `<template id="tpl-health-Healthy">` (and so on) per badge, for the script to clone.
pub(crate) fn templates() -> Markup {
    html! {
        div hidden {
            @for code in HEALTH_CODES { template id=(format!("tpl-health-{code}")) { (health(code)) } }
            @for code in SYNC_CODES { template id=(format!("tpl-sync-{code}")) { (sync(code)) } }
        }
    }
}

const HEART: &str =
    r#"<path d="M8 14.2S1.5 10.3 1.5 5.6A3.3 3.3 0 0 1 8 4.1a3.3 3.3 0 0 1 6.5 1.5c0 4.7-6.5 8.6-6.5 8.6z"/>"#;
const HEART_BROKEN: &str = r#"<path d="M8 14.2S1.5 10.3 1.5 5.6A3.3 3.3 0 0 1 8 4.1a3.3 3.3 0 0 1 6.5 1.5c0 4.7-6.5 8.6-6.5 8.6z"/><path class="cut" d="M8.4 4 6.9 7.2l2.3 1.5-1.6 3.6" fill="none" stroke-width="1.3"/>"#;
const CIRCLE_NOTCH: &str =
    r#"<path class="spin" d="M8 1.5a6.5 6.5 0 1 0 6.5 6.5" fill="none" stroke="currentColor" stroke-width="2.2"/>"#;
const PAUSE: &str =
    r#"<rect x="3" y="2" width="3.6" height="12" rx="1"/><rect x="9.4" y="2" width="3.6" height="12" rx="1"/>"#;
const GHOST: &str = r#"<path d="M2.5 14.5V7a5.5 5.5 0 0 1 11 0v7.5l-1.8-1.6-1.9 1.6L8 12.9l-1.8 1.6-1.9-1.6z"/><circle class="cut-fill" cx="6" cy="7" r="1.1"/><circle class="cut-fill" cx="10" cy="7" r="1.1"/>"#;
const QUESTION: &str = r#"<circle cx="8" cy="8" r="7"/><path class="cut" d="M5.9 6.1a2.1 2.1 0 1 1 3 1.9c-.6.3-.9.7-.9 1.3v.6" fill="none" stroke-width="1.5"/><circle class="cut-fill" cx="8" cy="11.9" r=".9"/>"#;
const CHECK_CIRCLE: &str =
    r#"<circle cx="8" cy="8" r="7"/><path class="cut" d="m4.8 8.2 2.2 2.2 4.2-4.6" fill="none" stroke-width="1.6"/>"#;
const ARROW_CIRCLE_UP: &str =
    r#"<circle cx="8" cy="8" r="7"/><path class="cut" d="M8 11.8V4.8M5 7.6l3-3 3 3" fill="none" stroke-width="1.6"/>"#;
