use super::*;

fn source(repo: &str, path: Option<&str>, ref_name: Option<&str>) -> ApplicationSource {
    ApplicationSource {
        repo_url: repo.into(),
        path: path.map(String::from),
        ref_name: ref_name.map(String::from),
        ..Default::default()
    }
}

fn multi(sources: Vec<ApplicationSource>) -> ApplicationSpec {
    ApplicationSpec { sources, ..Default::default() }
}

#[test]
fn composite_revisions_split_back_in_source_order() {
    let revisions = vec!["aaa".to_string(), "1.2.3".to_string(), "sha256:abc".to_string()];
    let composite = composite_revision(&revisions);
    assert_eq!(composite, "aaa,1.2.3,sha256:abc");
    assert_eq!(revisions_of(&composite), revisions);
    assert_eq!(revisions_of("aaa"), ["aaa"]);
}

#[test]
fn only_multi_source_applications_record_revisions() {
    let single = ApplicationSpec { source: Some(source("https://g/a", None, None)), ..Default::default() };
    assert!(recorded_revisions(&single, "aaa").is_empty());
    let one_of_many = multi(vec![source("https://g/a", None, None)]);
    assert_eq!(recorded_revisions(&one_of_many, "aaa"), ["aaa"], "a sources list of one is still listed");
    assert!(recorded_revisions(&one_of_many, "").is_empty());

    let mut status = ApplicationStatus::default();
    status.sync.revision = Some("aaa,bbb".into());
    fill_revisions(&multi(vec![source("https://g/a", None, None), source("https://g/b", None, None)]), &mut status);
    assert_eq!(status.sync.revisions, ["aaa", "bbb"]);
    fill_revisions(&single, &mut status);
    assert!(status.sync.revisions.is_empty());
}

#[test]
fn exactly_one_of_source_and_sources() {
    assert!(sources_problem(&ApplicationSpec::default()).unwrap().contains("exactly one"));
    let both = ApplicationSpec {
        source: Some(source("https://g/a", None, None)),
        sources: vec![source("https://g/b", None, None)],
        ..Default::default()
    };
    assert!(sources_problem(&both).unwrap().contains("not both"));
    assert_eq!(sources_problem(&multi(vec![source("https://g/a", Some("x"), None)])), None);
}

#[test]
fn each_source_is_checked_and_named_by_its_index() {
    let spec = multi(vec![source("https://g/a", None, None), source("https://g/b", Some("../up"), None)]);
    assert_eq!(
        sources_problem(&spec).as_deref(),
        Some(r#"spec.sources[1].path "../up" must be relative and stay inside the repository"#)
    );
    let spec = multi(vec![source(" ", None, None)]);
    assert_eq!(sources_problem(&spec).as_deref(), Some("spec.sources[0].repoURL is empty"));
    let single = ApplicationSpec { source: Some(source("https://g/a b", None, None)), ..Default::default() };
    assert!(sources_problem(&single).unwrap().starts_with("spec.source.repoURL"));
}

#[test]
fn refs_are_unique_names() {
    let ok = multi(vec![source("https://g/a", Some("c"), None), source("https://g/b", None, Some("values"))]);
    assert_eq!(sources_problem(&ok), None);
    let twice = multi(vec![source("https://g/a", None, Some("values")), source("https://g/b", None, Some("values"))]);
    assert_eq!(sources_problem(&twice).as_deref(), Some(r#"spec.sources[1].ref "values" is used by another source"#));
    let slash = multi(vec![source("https://g/a", None, Some("my/values"))]);
    assert!(sources_problem(&slash).unwrap().contains("letters, digits"));
}

#[test]
fn pinned_sources_are_the_recorded_ones_at_their_own_revisions() {
    let spec =
        multi(vec![source("https://g/chart", Some("c"), None), source("https://g/values", None, Some("values"))]);
    let deployed = pinned(&spec, &[], "aaa,bbb");
    let revisions: Vec<_> = deployed.sources.iter().map(|s| s.target_revision.as_deref()).collect();
    assert_eq!(revisions, [Some("aaa"), Some("bbb")]);
    assert_eq!(deployed.sources[1].ref_name.as_deref(), Some("values"));

    let then = source("https://g/chart", Some("old"), None);
    let values = source("https://g/values", None, Some("values"));
    let deployed = pinned(&spec, &[&then, &values], "ccc,ddd");
    assert_eq!(deployed.sources[0].path.as_deref(), Some("old"));

    let single = ApplicationSpec { source: Some(source("https://g/a", Some("now"), None)), ..Default::default() };
    let unset = ApplicationSource::default();
    let deployed = pinned(&single, &[&unset], "eee");
    let source = deployed.source.unwrap();
    assert_eq!((source.path.as_deref(), source.target_revision.as_deref()), (Some("now"), Some("eee")));
}
