use super::*;

#[test]
fn the_cookie_is_http_only_secure_strict_and_expires_with_the_session() {
    let cookie = session_cookie("abc", Duration::from_secs(8 * 3600));
    assert_eq!(cookie, "lockstep_session=abc; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=28800");
    assert!(cleared_cookie().ends_with("Max-Age=0"));
    assert!(cleared_cookie().starts_with("lockstep_session=;"));
}

#[test]
fn a_session_is_live_only_before_its_expiry() {
    let now = Instant::now();
    assert!(is_live(now + Duration::from_secs(1), now));
    assert!(!is_live(now, now));
    assert!(!is_live(now, now + Duration::from_secs(1)));
}

#[test]
fn the_csrf_token_must_be_the_sessions() {
    assert!(csrf_matches("a1b2", Some("a1b2")));
    assert!(!csrf_matches("a1b2", Some("a1b3")));
    assert!(!csrf_matches("a1b2", Some("a1b")));
    assert!(!csrf_matches("a1b2", None));
    assert!(!csrf_matches("", Some("")));
}

#[test]
fn the_origin_must_be_the_host_when_the_browser_names_one() {
    assert!(origin_allowed(Some("https://ui.example:8443"), None, Some("ui.example:8443")));
    assert!(origin_allowed(None, Some("http://127.0.0.1:8080/apps/a/b"), Some("127.0.0.1:8080")));
    assert!(origin_allowed(None, None, Some("ui.example")), "no Origin or Referer: the CSRF token decides");
    assert!(!origin_allowed(Some("https://evil.example"), None, Some("ui.example")));
    assert!(!origin_allowed(Some("https://ui.example.evil.example"), None, Some("ui.example")));
    assert!(!origin_allowed(Some("null"), None, Some("ui.example")));
    assert!(!origin_allowed(Some("https://ui.example"), None, None));
}

#[test]
fn the_session_id_is_read_from_the_cookie_header() {
    assert_eq!(cookie_value("a=1; lockstep_session=xyz; b=2", COOKIE_NAME), Some("xyz"));
    assert_eq!(cookie_value("lockstep_sessionx=1", COOKIE_NAME), None);
}

#[test]
fn session_ids_are_256_random_bits() {
    let a = random_hex(32);
    assert_eq!(a.len(), 64);
    assert_ne!(a, random_hex(32));
}
