use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parse(url: &str, revision: Option<&str>) -> Result<OciTarget, String> {
    OciTarget::parse(url, revision)
}

#[test]
fn url_forms_name_registry_repository_and_pin() {
    let t = parse("oci://Reg.example:5000/charts/guestbook", Some("1.2.3")).unwrap();
    assert_eq!((t.registry.as_str(), t.repository.as_str()), ("reg.example:5000", "charts/guestbook"));
    assert_eq!(t.pin, OciPin::Tag("1.2.3".into()));
    assert_eq!(t.name(), "reg.example:5000/charts/guestbook");

    let t = parse("oci://reg.example:5000/charts/guestbook:1.2.3", None).unwrap();
    assert_eq!((t.repository.as_str(), t.pin), ("charts/guestbook", OciPin::Tag("1.2.3".into())));

    let t = parse(&format!("oci://reg/app@{DIGEST}"), None).unwrap();
    assert_eq!(t.pin, OciPin::Digest { digest: DIGEST.into(), tag: None });

    let t = parse(&format!("oci://reg/app:v2@{DIGEST}"), Some("")).unwrap();
    assert_eq!(t.pin, OciPin::Digest { digest: DIGEST.into(), tag: Some("v2".into()) });

    assert_eq!(parse("oci://reg/app/", None).unwrap().pin, OciPin::Tag("latest".into()));
    assert_eq!(parse("oci://reg/app", Some("HEAD")).unwrap().pin, OciPin::Tag("latest".into()));
}

#[test]
fn target_revision_is_a_tag_a_range_or_a_digest() {
    let pin = |r: &str| parse("oci://reg/app", Some(r)).unwrap().pin;
    assert_eq!(pin("v1.2.3"), OciPin::Tag("v1.2.3".into()));
    assert_eq!(pin("~1.2"), OciPin::Range("~1.2".into()));
    assert_eq!(pin(">=1.0.0 <2.0.0"), OciPin::Range(">=1.0.0 <2.0.0".into()));
    assert_eq!(pin(DIGEST), OciPin::Digest { digest: DIGEST.into(), tag: None });
    assert_eq!(pin(&format!("1.0.0@{DIGEST}")), OciPin::Digest { digest: DIGEST.into(), tag: Some("1.0.0".into()) });
    assert_eq!(
        pin(&DIGEST.to_uppercase().replace("SHA256", "sha256")),
        OciPin::Digest { digest: DIGEST.into(), tag: None }
    );
}

#[test]
fn bad_urls_and_digests_are_refused() {
    for (url, revision) in [
        ("https://reg/app", None),
        ("oci://reg", None),
        ("oci://user:pw@reg/app", None),
        ("oci://reg/../app", None),
        ("oci://reg/App", None),
        ("oci://reg/app", Some("sha256:abc")),
        ("oci://reg/app", Some("sha512:00")),
        ("oci://reg/app:v1", Some("v2")),
    ] {
        assert!(parse(url, revision).is_err(), "{url} {revision:?}");
    }
    assert!(parse("oci://reg/app:v1", Some("v1")).is_ok(), "URL and revision may agree");
    assert!(is_oci_url(" OCI://reg/app") && !is_oci_url("https://reg/app"));
}

#[test]
fn ranges_pick_the_highest_matching_tag() {
    let tags: Vec<String> = ["1.2.3", "1.2.4", "1.3.0", "latest", "v2.0.0"].map(String::from).to_vec();
    assert_eq!(highest_tag("~1.2", &tags).as_deref(), Some("1.2.4"));
    assert_eq!(highest_tag(">=1.0.0", &tags).as_deref(), Some("v2.0.0"));
    assert_eq!(highest_tag("^3", &tags), None);
    assert_eq!(version_tags(&tags), "1.2.3, 1.2.4, 1.3.0, v2.0.0");
    assert_eq!(revision_of(Some("1.2.4"), DIGEST), format!("1.2.4@{DIGEST}"));
    assert_eq!(revision_of(None, DIGEST), DIGEST);
}

#[test]
fn helm_tags_read_underscore_as_build_metadata() {
    let tags: Vec<String> = ["1.2.3", "1.2.4_build.7", "1.3.0-rc.1", "2.0.0"].map(String::from).to_vec();
    assert_eq!(highest_tag("~1.2", &tags).as_deref(), Some("1.2.4_build.7"), "the tag as the registry names it");
    assert_eq!(highest_tag("1.2.4+build.7", &tags).as_deref(), Some("1.2.4_build.7"));
    assert_eq!(highest_tag("*", &tags).as_deref(), Some("2.0.0"), "pre-releases only when a range names one");
    assert_eq!(version_tags(&tags), "1.2.3, 1.2.4_build.7, 1.3.0-rc.1, 2.0.0");
    assert_eq!(chart_version_tag("1.2.4+build.7"), "1.2.4_build.7");
    assert_eq!(chart_version_tag("1.2.4"), "1.2.4");
    assert_eq!(parse("oci://reg/app", Some("*")).unwrap().pin, OciPin::Range("*".into()));
}
