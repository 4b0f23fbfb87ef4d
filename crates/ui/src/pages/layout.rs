//! The frame of every page: the stylesheet and script (same origin, no inline code), the
//! navigation, who is signed in and the sign-out form.

use maud::{DOCTYPE, Markup, html};

use crate::assets;
use crate::session::Session;

/// A whole page titled `title`; with a session, the navigation and the sign-out button.
pub(crate) fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    page_with_events(title, session, None, body)
}

/// Like [`page`], with the URL of the event stream the script follows for live badges.
pub(crate) fn page_with_events(title: &str, session: Option<&Session>, events: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · lockstep" }
                link rel="stylesheet" href=(assets::css_path());
                script src=(assets::js_path()) defer {}
            }
            body data-events=[events] {
                a.skip href="#main" { "Skip to content" }
                @if let Some(session) = session {
                    header.top {
                        a.brand href="/" { "lockstep" }
                        nav aria-label="Main" {
                            a href="/" { "Applications" }
                            a href="/applicationsets" { "ApplicationSets" }
                            a href="/projects" { "Projects" }
                            a href="/clusters" { "Clusters" }
                        }
                        span.user title="Signed in as" { (session.user) }
                        span #live-status.live-status aria-live="polite" {}
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}
