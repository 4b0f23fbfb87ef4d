use serde_json::json;

use super::*;
use crate::params::Params;

fn set(spec: serde_json::Value) -> ApplicationSet {
    let mut set: ApplicationSet = serde_json::from_value(json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "regions", "namespace": "ops", "uid": "set-uid"},
        "spec": spec,
    }))
    .unwrap();
    set.metadata.generation = Some(1);
    set
}

fn template() -> serde_json::Value {
    json!({
        "metadata": {"name": "{{cluster}}-guestbook", "labels": {"zone": "{{zone}}"}},
        "spec": {
            "source": {"repoURL": "https://git/apps", "path": "guestbook/{{zone}}", "targetRevision": "main"},
            "destination": {"server": "{{url}}", "namespace": "guestbook"}
        }
    })
}

fn generated(elements: serde_json::Value) -> Vec<Generated> {
    elements
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Generated { params: e.as_object().unwrap().clone(), template: None })
        .collect()
}

#[test]
fn one_owned_labelled_application_per_parameter_set() {
    let set = set(json!({"generators": [], "template": template()}));
    let apps = render_all(
        &set,
        &generated(json!([{"cluster": "ccr", "zone": "ccr", "url": "https://ccr:6443"}, {"cluster": "z513", "zone": "513", "url": "https://513:6443"}])),
    )
    .unwrap();
    assert_eq!(apps.iter().map(|a| a.name_any()).collect::<Vec<_>>(), ["ccr-guestbook", "z513-guestbook"]);
    let app = &apps[1];
    assert_eq!(app.namespace().as_deref(), Some("ops"));
    assert_eq!(app.spec.source.as_ref().unwrap().path.as_deref(), Some("guestbook/513"));
    assert_eq!(app.spec.destination.server.as_deref(), Some("https://513:6443"));
    assert_eq!(app.labels()["zone"], "513");
    assert_eq!(app.labels()[APPLICATION_SET_LABEL], "regions");
    assert_eq!(app.finalizers(), [RESOURCES_FINALIZER]);
    let owner = &app.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("ApplicationSet", "set-uid", Some(true)));
}

#[test]
fn depends_on_in_the_template_orders_generated_applications() {
    let mut template = template();
    template["spec"]["dependsOn"] =
        json!([{"name": "{{cluster}}-infra"}, {"name": "registry", "namespace": "platform"}]);
    let set = set(json!({"generators": [], "template": template}));
    let apps =
        render_all(&set, &generated(json!([{"cluster": "ccr", "zone": "ccr", "url": "https://ccr:6443"}]))).unwrap();
    let deps: Vec<_> = apps[0].spec.depends_on.iter().map(|d| (d.name.as_str(), d.namespace.as_deref())).collect();
    assert_eq!(deps, [("ccr-infra", None), ("registry", Some("platform"))]);
}

#[test]
fn preserving_resources_drops_the_resources_finalizers() {
    let mut with_argo = template();
    with_argo["metadata"]["finalizers"] = json!([ARGO_RESOURCES_FINALIZER, "example.com/keep"]);
    let set =
        set(json!({"generators": [], "template": with_argo, "syncPolicy": {"preserveResourcesOnDeletion": true}}));
    let apps = render_all(&set, &generated(json!([{"cluster": "a", "zone": "a", "url": "https://a"}]))).unwrap();
    assert_eq!(apps[0].finalizers(), ["example.com/keep"]);
}

#[test]
fn go_templates_with_a_patch_and_missingkey_error() {
    let set = set(json!({
        "goTemplate": true,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [],
        "template": {
            "metadata": {"name": "{{ .cluster | normalize }}"},
            "spec": {"source": {"repoURL": "https://git/apps", "path": "{{ .path.path }}"}, "destination": {"namespace": "x"}}
        },
        "templatePatch": "spec:\n  revisionHistoryLimit: {{ .keep }}\n",
    }));
    let params = json!([{"cluster": "Tn1_Eth0", "path": {"path": "apps/tn1"}, "keep": 3}]);
    let apps = render_all(&set, &generated(params)).unwrap();
    assert_eq!(apps[0].name_any(), "tn1-eth0");
    assert_eq!(apps[0].spec.source.as_ref().unwrap().path.as_deref(), Some("apps/tn1"));
    assert_eq!(apps[0].spec.revision_history_limit, Some(3));
    let err = render_all(&set, &generated(json!([{"cluster": "a", "path": {"path": "p"}}]))).unwrap_err();
    assert!(matches!(&err, TemplateError::Template { index: 0, message } if message.contains("missingkey")), "{err}");
}

#[test]
fn bad_output_names_the_parameter_set_and_duplicates_are_refused() {
    let set = set(json!({"generators": [], "template": template()}));
    let err = render_all(&set, &generated(json!([{"cluster": "ok", "zone": "a", "url": "https://a"}, {"cluster": "Bad_Name", "zone": "b", "url": "https://b"}])))
        .unwrap_err();
    assert!(matches!(&err, TemplateError::Invalid { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("\"Bad_Name-guestbook\""), "{err}");
    let err = render_all(&set, &generated(json!([{"cluster": "a", "zone": "a", "url": "ftp://a"}]))).unwrap_err();
    assert!(err.to_string().contains("spec.destination.server"), "{err}");
    let err = render_all(
        &set,
        &generated(json!([{"cluster": "a", "zone": "1", "url": "https://a"}, {"cluster": "a", "zone": "2", "url": "https://b"}])),
    )
    .unwrap_err();
    assert_eq!(err, TemplateError::Duplicate { name: "a-guestbook".into(), first: 0, second: 1 });
}

#[test]
fn map_keys_and_generator_templates_are_rendered_too() {
    let set = set(json!({"generators": [], "template": template()}));
    let one = Generated {
        params: json!({"cluster": "a", "zone": "ccr", "url": "https://a"}).as_object().unwrap().clone(),
        template: Some(
            json!({"metadata": {"annotations": {"team/{{zone}}": "owner"}}, "spec": {"project": "{{zone}}"}}),
        ),
    };
    let apps = render_all(&set, &[one]).unwrap();
    assert_eq!(apps[0].annotations()["team/ccr"], "owner");
    assert_eq!(apps[0].spec.project.as_deref(), Some("ccr"));
    let outer: Params = json!({"zone": "ccr"}).as_object().unwrap().clone();
    let inner: ApplicationSetGenerator = serde_json::from_value(
        json!({"git": {"repoURL": "https://git/{{zone}}", "directories": [{"path": "{{zone}}/*"}]}}),
    )
    .unwrap();
    let filled = interpolate_generator(&inner, &outer, false).unwrap();
    let git = filled.git.unwrap();
    assert_eq!((git.repo_url.as_str(), git.directories[0].path.as_str()), ("https://git/ccr", "ccr/*"));
}

#[test]
fn a_multi_source_template_fills_every_source() {
    let template = json!({
        "metadata": {"name": "{{cluster}}-keystone"},
        "spec": {
            "sources": [
                {"repoURL": "https://git/charts", "path": "keystone", "targetRevision": "main",
                 "helm": {"valueFiles": ["$values/{{cluster}}/keystone.yaml"]}},
                {"repoURL": "https://git/envs", "targetRevision": "{{cluster}}", "ref": "values"}
            ],
            "destination": {"namespace": "openstack"}
        }
    });
    let set = set(json!({"generators": [], "template": template}));
    let apps = render_all(&set, &generated(json!([{"cluster": "east"}]))).unwrap();
    let spec = &apps[0].spec;
    assert!(spec.source.is_none() && spec.is_multi_source());
    let helm = spec.sources[0].helm.as_ref().unwrap();
    assert_eq!(helm.value_files, ["$values/east/keystone.yaml"]);
    assert_eq!(
        (spec.sources[1].target_revision.as_deref(), spec.sources[1].ref_name.as_deref()),
        (Some("east"), Some("values"))
    );
}
