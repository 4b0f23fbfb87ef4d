use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn request(url: String, revision: &str) -> OciRequest {
    OciRequest { repo_url: url, target_revision: Some(revision.into()), auth: OciAuth::default() }
}

#[tokio::test]
async fn a_registry_that_is_down_fails_without_a_last_good_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let cache = OciCache::open(dir.path(), OciOptions::default()).unwrap();
    let url = format!("oci://127.0.0.1:{}/charts/app", closed_port());
    let err = cache.snapshot(&request(url, "1.0.0")).await.unwrap_err();
    assert!(err.is_outage(), "{err}");
    let err = cache.snapshot(&request("oci://reg/app".into(), "sha256:short")).await.unwrap_err();
    assert!(matches!(err, SourceError::Configuration { .. }), "{err}");
}

#[tokio::test]
async fn a_registry_that_is_down_serves_the_last_good_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("oci://127.0.0.1:{}/charts/app", closed_port());
    {
        let cache = OciCache::open(dir.path(), OciOptions::default()).unwrap();
        let target = OciTarget::parse(&url, Some("1.0.0")).unwrap();
        let key = format!("{}#{:?}#-", target.name(), target.pin);
        std::fs::create_dir_all(cache.artifact_dir(DIGEST).join("content/app")).unwrap();
        std::fs::write(cache.artifact_dir(DIGEST).join(CHART_MARKER), "app").unwrap();
        let mut state = cache.state.lock().unwrap();
        state.succeeded(&key, &format!("1.0.0@{DIGEST}"), DIGEST);
        state.save(&dir.path().join("oci/state.json"));
    }
    let cache = OciCache::open(dir.path(), OciOptions::default()).unwrap();
    let snapshot = cache.snapshot(&request(url.clone(), "1.0.0")).await.unwrap();
    assert_eq!(snapshot.revision, format!("1.0.0@{DIGEST}"));
    assert_eq!(snapshot.root, cache.artifact_dir(DIGEST).join("content/app"), "a chart renders from its directory");
    let unavailable = snapshot.unavailable.expect("marked as served during an outage");
    assert!(unavailable.error.is_outage());
    let other_pin = cache.snapshot(&request(url, "2.0.0")).await;
    assert!(other_pin.is_err(), "another pin never reads this one's artifact");
}
