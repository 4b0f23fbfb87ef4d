use std::time::Duration;

use super::*;

#[test]
fn redirect_url_follows_the_ui_url_else_the_listen_address() {
    let listen: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
    assert_eq!(
        default_redirect_url(Some("https://lockstep.example/"), listen),
        "https://lockstep.example/oidc/callback"
    );
    assert_eq!(default_redirect_url(None, listen), "http://localhost:8080/oidc/callback");
    let loopback: std::net::SocketAddr = "127.0.0.1:9000".parse().unwrap();
    assert_eq!(default_redirect_url(None, loopback), "http://127.0.0.1:9000/oidc/callback");
    let v6: std::net::SocketAddr = "[::1]:9000".parse().unwrap();
    assert_eq!(default_redirect_url(None, v6), "http://[::1]:9000/oidc/callback");
}

#[test]
fn state_cookie_is_lax_and_scoped_to_the_callback() {
    let cookie = state_cookie("abc");
    assert!(cookie.starts_with("lockstep_oidc_state=abc;"), "{cookie}");
    for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/oidc", "Max-Age=600"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(cleared_state_cookie().contains("Max-Age=0"));
}

#[test]
fn a_session_never_outlives_its_token() {
    let eight_hours = Duration::from_secs(8 * 3600);
    assert_eq!(session_lifetime(eight_hours, Duration::from_secs(600)), Duration::from_secs(600));
    assert_eq!(session_lifetime(Duration::from_secs(60), Duration::from_secs(600)), Duration::from_secs(60));
}

#[test]
fn settings_are_checked_without_contacting_the_issuer() {
    let settings = OidcSettings {
        issuer: "https://127.0.0.1:1".into(),
        client_id: "ui".into(),
        client_secret: "s".into(),
        redirect_url: "http://127.0.0.1:2/oidc/callback".into(),
        scopes: vec![],
        ca_file: None,
    };
    assert!(Oidc::new(settings.clone()).is_ok());
    let bad = OidcSettings { redirect_url: "not a url".into(), ..settings.clone() };
    assert!(matches!(Oidc::new(bad), Err(OidcError::Settings(_))));
    let missing_ca = OidcSettings { ca_file: Some("/nonexistent/ca.pem".into()), ..settings };
    assert!(matches!(Oidc::new(missing_ca), Err(OidcError::Settings(_))));
}

#[tokio::test]
async fn an_unreachable_issuer_is_reported_unavailable_and_a_callback_without_a_start_is_refused() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let oidc = Oidc::new(OidcSettings {
        issuer: format!("https://127.0.0.1:{port}"),
        client_id: "ui".into(),
        client_secret: "s".into(),
        redirect_url: "http://127.0.0.1:2/oidc/callback".into(),
        scopes: vec![],
        ca_file: None,
    })
    .unwrap();
    assert!(matches!(oidc.availability(), Availability::Checking), "nothing asked yet");
    assert!(matches!(oidc.start().await, Err(OidcError::Unavailable(_))));
    assert!(matches!(oidc.availability(), Availability::Unavailable(reason) if reason.contains("127.0.0.1")));
    assert!(matches!(oidc.finish("never-started", "code").await, Err(OidcError::UnknownState)));
}
