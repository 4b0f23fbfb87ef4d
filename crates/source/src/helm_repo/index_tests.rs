use super::*;

const INDEX: &str = r#"
apiVersion: v1
entries:
  web:
    - version: 1.2.3
      name: web
      description: ignored
      urls: [charts/web-1.2.3.tgz]
      digest: abc
      created: "2026-01-01T00:00:00Z"
    - version: 1.2.4
      urls: [https://cdn.example/web-1.2.4.tgz]
    - version: 1.3.0-rc.1
      urls: [web-1.3.0-rc.1.tgz]
    - version: 2.0.0
      urls: [/abs/web-2.0.0.tgz]
  empty: null
generated: "2026-01-01T00:00:00Z"
"#;

fn index() -> ChartIndex {
    ChartIndex::parse(INDEX.as_bytes()).unwrap()
}

#[test]
fn ranges_exact_versions_and_latest() {
    let index = index();
    let pick = |target: Option<&str>| index.select("web", target).map(|v| v.version.as_str());
    assert_eq!(pick(Some("~1.2")), Ok("1.2.4"));
    assert_eq!(pick(Some("1.2.3")), Ok("1.2.3"));
    assert_eq!(pick(Some("v1.2.3")), Ok("1.2.3"), "a loose spelling of a listed version");
    assert_eq!(pick(None), Ok("2.0.0"));
    assert_eq!(pick(Some("*")), Ok("2.0.0"));
    assert_eq!(pick(Some(">=1.3.0-0 <2.0.0")), Ok("1.3.0-rc.1"), "pre-releases only when asked for");
    assert_eq!(pick(Some("^1.0")), Ok("1.2.4"));
    assert_eq!(
        pick(Some("1.2.9")),
        Err(Unmatched::UnknownVersion(vec!["2.0.0".into(), "1.3.0-rc.1".into(), "1.2.4".into(), "1.2.3".into()]))
    );
    assert!(matches!(pick(Some("~3.1")), Err(Unmatched::OutOfRange(_))));
    assert_eq!(index.select("nope", None), Err(Unmatched::UnknownChart));
    assert_eq!(index.select("empty", None), Err(Unmatched::UnknownChart));
    assert_eq!(index.len(), 4);
}

#[test]
fn archive_urls_resolve_against_the_repository() {
    let index = index();
    let url = |version: &str| archive_url("http://h:8080/helm/", index.select("web", Some(version)).unwrap());
    assert_eq!(url("1.2.3").as_deref(), Some("http://h:8080/helm/charts/web-1.2.3.tgz"));
    assert_eq!(url("1.2.4").as_deref(), Some("https://cdn.example/web-1.2.4.tgz"));
    assert_eq!(url("2.0.0").as_deref(), Some("http://h:8080/abs/web-2.0.0.tgz"));
    assert_eq!(index.select("web", Some("1.2.3")).unwrap().digest.as_deref(), Some("abc"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(ChartIndex::parse(b"entries: [not, a, map]").is_err());
    assert!(ChartIndex::parse(b"\x00\xff").is_err());
    assert_eq!(ChartIndex::parse(b"apiVersion: v1\n").unwrap().len(), 0);
}
