//! The fuzz targets: every parser of untrusted input, which must never panic and must keep its
//! invariants. `cargo xtask fuzz` runs them with a larger budget and a random seed.

use lockstep_fuzz::run;
use lockstep_source::{RemoteRef, RevisionSpec};
use lockstep_webhook::{Provider, parse_push};
use serde_json::Value;

/// Rendered or committed manifests: YAML and JSON, many documents, `List` kinds.
#[test]
fn manifests() {
    let report = run("manifests", |input| {
        let text = String::from_utf8_lossy(input);
        match lockstep_render::parse_manifests("fuzz.yaml", &text) {
            Ok(manifests) => {
                for manifest in &manifests {
                    assert!(
                        !manifest.kind().is_empty()
                            && !manifest.api_version().is_empty()
                            && !manifest.name().is_empty()
                    );
                }
                true
            }
            Err(err) => {
                assert!(err.to_string().contains("fuzz.yaml"), "errors name the file: {err}");
                false
            }
        }
    });
    assert!(report.accepted > 0, "{report:?}");
}

/// Push payloads of every provider; the body is attacker-controlled until its signature is checked.
#[test]
fn webhook_payloads() {
    let providers =
        [Provider::Github, Provider::Gitea, Provider::Gitlab, Provider::BitbucketCloud, Provider::BitbucketServer];
    let report = run("webhooks", |input| {
        let mut accepted = false;
        for provider in providers {
            if let Ok(push) = parse_push(provider, input) {
                assert!(!push.repo_urls.is_empty() && !push.refs.is_empty());
                accepted = true;
            }
        }
        accepted
    });
    assert!(report.accepted > 0, "{report:?}");
}

/// Live objects as the health readers see them: whatever JSON the API server (or a CRD) holds.
#[test]
fn live_objects() {
    let report = run("objects", |input| {
        let Ok(object) = serde_json::from_slice::<Value>(input) else { return false };
        let health = lockstep_health::assess(&object);
        let _ = lockstep_health::kstatus(&object);
        assert!(health.message.as_ref().is_none_or(|m| m.len() < 64 * 1024), "a message stays bounded");
        true
    });
    assert!(report.accepted > 0, "{report:?}");
}

/// `targetRevision` values, resolved against a fixed set of tags and branches.
#[test]
fn revisions() {
    let refs: Vec<RemoteRef> =
        ["HEAD", "refs/heads/main", "refs/tags/v1.2.3", "refs/tags/1.4.0", "refs/tags/2.0.0-rc.1"]
            .iter()
            .enumerate()
            .map(|(i, name)| RemoteRef { name: (*name).into(), oid: format!("{i:040x}"), peeled: None })
            .collect();
    let report = run("revisions", |input| {
        let text = String::from_utf8_lossy(input);
        let spec = RevisionSpec::parse(Some(&text));
        let _ = spec.key();
        let resolved = spec.resolve_in(&refs);
        if let Some(oid) = &resolved {
            assert!(refs.iter().any(|r| &r.oid == oid), "resolves only to an advertised ref");
        }
        resolved.is_some()
    });
    assert!(report.accepted > 0, "{report:?}");
}
