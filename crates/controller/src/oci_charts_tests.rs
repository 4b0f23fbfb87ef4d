use super::*;

#[test]
fn argo_cd_oci_helm_forms_name_the_chart_in_the_registry() {
    let chart = oci_chart_source("oci://reg.example/charts", "web", Some("1.2.3"), false).unwrap().unwrap();
    assert_eq!((chart.url.as_str(), chart.version.as_deref()), ("oci://reg.example/charts/web", Some("1.2.3")));
    let schemeless = oci_chart_source("reg.example/charts", "web", Some("~1.2"), true).unwrap().unwrap();
    assert_eq!(schemeless.url, "oci://reg.example/charts/web");
    assert_eq!(schemeless.repository, "reg.example/charts", "its Secret is keyed by the repository as written");
}

#[test]
fn helm_repositories_stay_helm_repositories() {
    assert_eq!(oci_chart_source("https://charts.example/stable", "web", Some("1.0.0"), false), Ok(None));
    assert_eq!(oci_chart_source("https://charts.example/stable", "web", Some("1.0.0"), true), Ok(None));
}

#[test]
fn a_schemeless_repository_without_enable_oci_says_what_to_write() {
    let error = oci_chart_source("reg.example/charts", "web", Some("1.0.0"), false).unwrap_err();
    assert!(error.contains("oci://reg.example/charts") && error.contains("enableOCI"), "{error}");
    assert!(oci_chart_source("oci://reg.example/charts", "Bad/Name", None, false).is_err());
}

#[test]
fn a_pulled_chart_must_carry_the_name_asked_for() {
    assert_eq!(holds_chart(Path::new("/cache/oci/artifacts/ab/content/web"), "web"), Ok(()));
    let wrong = holds_chart(Path::new("/cache/oci/artifacts/ab/content/api"), "web").unwrap_err();
    assert!(wrong.contains("\"api\"") && wrong.contains("\"web\""), "{wrong}");
}
