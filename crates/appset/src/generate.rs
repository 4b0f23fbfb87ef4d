//! Generators: from an ApplicationSet's `spec.generators` to parameter sets.
//!
//! Each kind's decision is a pure function over what it reads: `list` over its elements, `clusters`
//! over the cluster Secrets, `git` over a checked-out commit ([`crate::git`]); `matrix` and
//! `merge` combine the sets of their children. Only reading a commit is I/O, behind [`GitTrees`],
//! so that the whole evaluation runs in unit tests against a directory.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use lockstep_api::{ApplicationSetGenerator, ClusterGenerator, ListGenerator, MergeGenerator};
use serde_json::{Map, Value};

use crate::error::GenerateError;
use crate::fasttemplate;
use crate::params::{Params, flatten, insert_dotted, normalize};
use crate::selector;

/// Matrix and merge may hold matrix and merge children, but those may not hold more (Argo's limit).
const MAX_DEPTH: usize = 2;

/// One parameter set with the template overrides of the generators that produced it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Generated {
    /// The parameters.
    pub params: Params,
    /// The generator's `template`, to merge over the set's (innermost last).
    pub template: Option<Value>,
}

/// One destination cluster as the clusters generator sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterInfo {
    /// `name` of its Secret (`in-cluster` for the local one).
    pub name: String,
    /// The API server URL.
    pub server: String,
    /// The Secret's labels; `None` for the local cluster, which has no Secret.
    pub labels: Option<BTreeMap<String, String>>,
    /// The Secret's annotations.
    pub annotations: BTreeMap<String, String>,
    /// `project` of the Secret, if any.
    pub project: Option<String>,
    /// Why its Secret cannot be read; a clusters generator that selects it fails rather than
    /// leaving the cluster out (which would delete its Applications).
    pub unreadable: Option<String>,
}

/// A commit of a git repository, checked out for reading.
#[derive(Clone, Debug)]
pub struct GitTree {
    /// The directory holding the commit's files.
    pub root: PathBuf,
    /// The full commit SHA.
    pub revision: String,
}

/// A checked-out commit on its way, or why it cannot be had.
pub type PendingTree<'a> = Pin<Box<dyn Future<Output = Result<GitTree, String>> + Send + 'a>>;

/// Reads git repositories for the git generator from the shared cache.
pub trait GitTrees: Send + Sync {
    /// The commit `revision` resolves to in `repo_url`, checked out, with the credentials of
    /// `namespace`; the error says why not.
    fn tree<'a>(&'a self, namespace: &'a str, repo_url: &'a str, revision: &'a str) -> PendingTree<'a>;
}

/// What generators read besides the set itself.
pub struct Inputs<'a> {
    /// The set's namespace, whose credential Secrets apply to its repositories.
    pub namespace: &'a str,
    /// The local cluster first, then every cluster Secret.
    pub clusters: &'a [ClusterInfo],
    /// Git repositories.
    pub git: &'a dyn GitTrees,
    /// Whether the set uses Go templates (values of `values` are then left unrendered).
    pub go_template: bool,
}

/// Every parameter set of `generators`, in order; the first failure stops the whole evaluation,
/// since a partial result would delete the Applications of the failed generator.
pub async fn generate_all(
    generators: &[ApplicationSetGenerator],
    inputs: &Inputs<'_>,
) -> Result<Vec<Generated>, GenerateError> {
    let mut all = Vec::new();
    for (index, generator) in generators.iter().enumerate() {
        let sets = generate(generator, inputs, &Params::new(), 0)
            .await
            .map_err(|e| e.within(format!("generators[{index}]")))?;
        all.extend(sets);
    }
    Ok(all)
}

/// The parameter sets of one generator; `outer` holds the parameters of a matrix's earlier child,
/// which this one's fields may use.
fn generate<'a>(
    generator: &'a ApplicationSetGenerator,
    inputs: &'a Inputs<'a>,
    outer: &'a Params,
    depth: usize,
) -> Pin<Box<dyn Future<Output = Result<Vec<Generated>, GenerateError>> + Send + 'a>> {
    Box::pin(async move {
        let interpolated;
        let generator = if outer.is_empty() {
            generator
        } else {
            interpolated = crate::template::interpolate_generator(generator, outer, inputs.go_template)?;
            &interpolated
        };
        let kinds = [
            generator.list.is_some(),
            generator.clusters.is_some(),
            generator.git.is_some(),
            generator.matrix.is_some(),
            generator.merge.is_some(),
        ];
        let sets = match (kinds.iter().filter(|k| **k).count(), generator) {
            (0, _) => {
                return Err(GenerateError::Invalid(
                    "no generator kind is set (list, clusters, git, matrix or merge)".into(),
                ));
            }
            (1, ApplicationSetGenerator { list: Some(list), .. }) => with_template(list_params(list)?, &list.template),
            (1, ApplicationSetGenerator { clusters: Some(clusters), .. }) => {
                with_template(cluster_params(clusters, inputs)?, &clusters.template)
            }
            (1, ApplicationSetGenerator { git: Some(git), .. }) => {
                let tree = inputs
                    .git
                    .tree(inputs.namespace, &git.repo_url, &git.revision)
                    .await
                    .map_err(|message| GenerateError::Source { repo: git.repo_url.clone(), message })?;
                with_template(crate::git::params(git, &tree, inputs.go_template)?, &git.template)
            }
            (1, ApplicationSetGenerator { matrix: Some(matrix), .. }) => {
                let children = children(&matrix.generators, depth, "matrix")?;
                let [first, second] = children.as_slice() else {
                    return Err(GenerateError::Invalid(format!(
                        "matrix needs exactly two generators, has {}",
                        children.len()
                    )));
                };
                let mut out = Vec::new();
                for left in
                    generate(first, inputs, outer, depth + 1).await.map_err(|e| e.within("matrix.generators[0]"))?
                {
                    let inner = generate(second, inputs, &left.params, depth + 1)
                        .await
                        .map_err(|e| e.within("matrix.generators[1]"))?;
                    for right in inner {
                        out.push(Generated {
                            params: combine(&left.params, &right.params)?,
                            template: merge_templates(left.template.clone(), right.template),
                        });
                    }
                }
                with_template(out, &matrix.template)
            }
            (1, ApplicationSetGenerator { merge: Some(merge), .. }) => {
                let children = children(&merge.generators, depth, "merge")?;
                let mut each = Vec::new();
                for (index, child) in children.iter().enumerate() {
                    let sets = generate(child, inputs, outer, depth + 1)
                        .await
                        .map_err(|e| e.within(format!("merge.generators[{index}]")))?;
                    each.push(sets);
                }
                with_template(merged(merge, each)?, &merge.template)
            }
            _ => return Err(GenerateError::Invalid("more than one generator kind is set in one generator".into())),
        };
        match &generator.selector {
            Some(selector) => keep_selected(sets, selector),
            None => Ok(sets),
        }
    })
}

fn with_template(mut sets: Vec<Generated>, template: &Option<Value>) -> Vec<Generated> {
    if let Some(template) = template {
        for set in &mut sets {
            set.template = merge_templates(Some(template.clone()), set.template.take());
        }
    }
    sets
}

fn keep_selected(sets: Vec<Generated>, selector: &LabelSelector) -> Result<Vec<Generated>, GenerateError> {
    let mut kept = Vec::new();
    for set in sets {
        if selector::matches(selector, &flatten(&set.params)).map_err(GenerateError::Invalid)? {
            kept.push(set);
        }
    }
    Ok(kept)
}

/// `list`: each element (and each item of `elementsYaml`) must be an object.
fn list_params(list: &ListGenerator) -> Result<Vec<Generated>, GenerateError> {
    let mut elements = list.elements.clone();
    if let Some(yaml) = list.elements_yaml.as_deref().filter(|y| !y.trim().is_empty()) {
        let more: Vec<Value> = serde_yaml_ng::from_str(yaml)
            .map_err(|e| GenerateError::Invalid(format!("list.elementsYaml is not a YAML list: {e}")))?;
        elements.extend(more);
    }
    elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| match element {
            Value::Object(params) => Ok(Generated { params, template: None }),
            other => Err(GenerateError::Invalid(format!("list element {index} is not an object: {other}"))),
        })
        .collect()
}

/// `clusters`: Argo's `name`, `nameNormalized`, `server`, `project`, `metadata.labels.*`,
/// `metadata.annotations.*` and `values.*`. A selector leaves out the local cluster, as Argo does.
fn cluster_params(generator: &ClusterGenerator, inputs: &Inputs<'_>) -> Result<Vec<Generated>, GenerateError> {
    let selected = inputs.clusters.iter().filter(|cluster| match (&generator.selector, &cluster.labels) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(selector), Some(labels)) => selector::matches(selector, labels).unwrap_or(false),
    });
    selected
        .map(|cluster| {
            if let Some(why) = &cluster.unreadable {
                return Err(GenerateError::Cluster { secret: cluster.name.clone(), message: why.clone() });
            }
            let mut params = Params::new();
            params.insert("name".into(), Value::String(cluster.name.clone()));
            params.insert("nameNormalized".into(), Value::String(normalize(&cluster.name)));
            params.insert("server".into(), Value::String(cluster.server.clone()));
            params.insert("project".into(), Value::String(cluster.project.clone().unwrap_or_default()));
            let strings = |map: &BTreeMap<String, String>| {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
            };
            let mut metadata = Map::new();
            metadata.insert("labels".into(), strings(cluster.labels.as_ref().unwrap_or(&BTreeMap::new())));
            metadata.insert("annotations".into(), strings(&cluster.annotations));
            params.insert("metadata".into(), Value::Object(metadata));
            add_values(&mut params, &generator.values, inputs.go_template);
            Ok(Generated { params, template: None })
        })
        .collect()
}

/// Adds `values.<key>`, each value rendered with the parameters so far (fasttemplate only).
pub(crate) fn add_values(params: &mut Params, values: &BTreeMap<String, String>, go_template: bool) {
    if values.is_empty() {
        return;
    }
    let flat = flatten(params);
    for (key, value) in values {
        let value = if go_template { value.clone() } else { fasttemplate::render(value, &flat) };
        insert_dotted(params, &format!("values.{key}"), Value::String(value));
    }
}

/// Parses the children of a matrix or merge, refusing a third level of nesting.
fn children(raw: &[Value], depth: usize, kind: &str) -> Result<Vec<ApplicationSetGenerator>, GenerateError> {
    raw.iter()
        .enumerate()
        .map(|(index, value)| {
            let child: ApplicationSetGenerator = serde_json::from_value(value.clone())
                .map_err(|e| GenerateError::Invalid(format!("{kind}.generators[{index}] is not a generator: {e}")))?;
            if depth + 1 >= MAX_DEPTH && (child.matrix.is_some() || child.merge.is_some()) {
                return Err(GenerateError::Invalid(format!(
                    "{kind}.generators[{index}]: matrix and merge nest at most {MAX_DEPTH} levels deep"
                )));
            }
            Ok(child)
        })
        .collect()
}

/// A matrix row: both children's parameters; a key both set to different values is an error, as in Argo.
fn combine(left: &Params, right: &Params) -> Result<Params, GenerateError> {
    let mut out = left.clone();
    for (key, value) in right {
        match out.get(key) {
            Some(existing) if existing != value && !(existing.is_object() && value.is_object()) => {
                return Err(GenerateError::Invalid(format!(
                    "matrix: both generators set parameter {key:?}, to {existing} and {value}"
                )));
            }
            Some(Value::Object(_)) if value.is_object() => {
                let (Some(Value::Object(mine)), Value::Object(theirs)) = (out.get(key), value) else { continue };
                let joined = combine(mine, theirs)?;
                out.insert(key.clone(), Value::Object(joined));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(out)
}

/// `merge`: every set of the first child, with the values of each later child's set whose merge
/// keys equal its own. Two sets of one child with the same keys are an error, as in Argo.
fn merged(merge: &MergeGenerator, each: Vec<Vec<Generated>>) -> Result<Vec<Generated>, GenerateError> {
    if merge.merge_keys.is_empty() {
        return Err(GenerateError::Invalid("merge needs at least one mergeKeys entry".into()));
    }
    let mut each = each.into_iter();
    let Some(mut base) = each.next() else {
        return Err(GenerateError::Invalid("merge needs at least one generator".into()));
    };
    let key_of = |set: &Generated| -> Option<Vec<String>> {
        let flat = flatten(&set.params);
        merge.merge_keys.iter().map(|k| flat.get(k).cloned()).collect()
    };
    for (offset, overriding) in each.enumerate() {
        let mut by_key: BTreeMap<Vec<String>, Generated> = BTreeMap::new();
        for set in overriding {
            let Some(key) = key_of(&set) else { continue };
            if by_key.insert(key.clone(), set).is_some() {
                return Err(GenerateError::Invalid(format!(
                    "merge.generators[{}]: two parameter sets share the merge keys {key:?}",
                    offset + 1
                )));
            }
        }
        for set in &mut base {
            let Some(key) = key_of(set) else { continue };
            if let Some(over) = by_key.get(&key) {
                for (name, value) in &over.params {
                    set.params.insert(name.clone(), value.clone());
                }
                set.template = merge_templates(set.template.take(), over.template.clone());
            }
        }
    }
    Ok(base)
}

/// `over` laid over `base`: objects merge key by key, and any other value of `over` that is not
/// empty replaces the one below (mergo's override, as Argo merges generator templates).
pub fn merge_templates(base: Option<Value>, over: Option<Value>) -> Option<Value> {
    match (base, over) {
        (None, over) => over,
        (base, None) => base,
        (Some(mut base), Some(over)) => {
            overlay(&mut base, over);
            Some(base)
        }
    }
}

/// Lays `over` onto `base` in place.
pub fn overlay(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => overlay(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (_, Value::Null) => {}
        (_, Value::String(s)) if s.is_empty() => {}
        (_, Value::Array(items)) if items.is_empty() => {}
        (base, over) => *base = over,
    }
}

/// Argo's default look-again period of a set with a git generator.
pub const DEFAULT_GIT_REQUEUE_SECONDS: u64 = 180;

/// How often the set must look again: the shortest `requeueAfterSeconds` of its git generators
/// (nested ones included, [`DEFAULT_GIT_REQUEUE_SECONDS`] for one that gives none), or `None`
/// when it has no git generator and every change it depends on arrives as a watch event.
pub fn requeue_seconds(generators: &[ApplicationSetGenerator]) -> Option<u64> {
    let mut found: Option<u64> = None;
    visit_git(generators, &mut |git| {
        let mine = git.requeue_after_seconds.filter(|s| *s > 0).map_or(DEFAULT_GIT_REQUEUE_SECONDS, |s| s as u64);
        found = Some(found.map_or(mine, |f| f.min(mine)));
    });
    found
}

/// The repositories and revisions of the set's git generators, nested ones included, for push webhooks.
pub fn git_sources(generators: &[ApplicationSetGenerator]) -> Vec<(String, Option<String>)> {
    let mut sources = Vec::new();
    visit_git(generators, &mut |git| {
        let revision = Some(git.revision.clone()).filter(|r| !r.is_empty());
        sources.push((git.repo_url.clone(), revision));
    });
    sources
}

fn visit_git(generators: &[ApplicationSetGenerator], visit: &mut dyn FnMut(&lockstep_api::GitGenerator)) {
    for generator in generators {
        if let Some(git) = &generator.git {
            visit(git);
        }
        let nested = generator
            .matrix
            .as_ref()
            .map(|m| &m.generators)
            .into_iter()
            .chain(generator.merge.as_ref().map(|m| &m.generators));
        for raw in nested {
            let children: Vec<ApplicationSetGenerator> =
                raw.iter().filter_map(|v| serde_json::from_value(v.clone()).ok()).collect();
            visit_git(&children, visit);
        }
    }
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
