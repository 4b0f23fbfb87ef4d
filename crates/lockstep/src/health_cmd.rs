//! `lockstep health -f FILE`: health of the objects in a file, offline.
//!
//! The file holds live objects as the API server returns them, so unlike manifests read from
//! git they need no name (a `generateName` object, an object from a dry run), nor any field that
//! is normally set: every object gets a verdict, as upstream computes one.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use lockstep_engine::ResourceKey;
use serde::Deserialize as _;
use serde_json::Value;

#[derive(Args)]
pub(crate) struct HealthArgs {
    /// A YAML or JSON file of objects (multi-document or a List); `-` for standard input.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Print kstatus's result (Current, InProgress, Failed, Terminating) instead of Argo CD's health.
    #[arg(long)]
    kstatus: bool,
}

/// What the place column shows for an object without a name.
const NO_NAME: &str = "<none>";

pub(crate) fn run(args: HealthArgs) -> anyhow::Result<()> {
    let name = args.file.display().to_string();
    let text = if name == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {name}"))?
    };
    for object in read_objects(&name, &text)? {
        let key = ResourceKey::of(&object);
        let shown = if key.name.is_empty() { NO_NAME } else { key.name.as_str() };
        let place = match &key.namespace {
            Some(ns) => format!("{ns}/{shown}"),
            None => shown.to_string(),
        };
        let (status, message) = if args.kstatus {
            let result = lockstep_health::kstatus(&object);
            (result.status.to_string(), result.message)
        } else {
            let health = lockstep_health::assess(&object);
            (health.status.to_string(), health.message.unwrap_or_default())
        };
        println!("{}\t{place}\t{status}\t{message}", key.kind);
    }
    Ok(())
}

/// The objects of a multi-document YAML or JSON text: empty documents skipped, `…List` kinds
/// flattened. Only a document that is not a mapping is refused (`file` names the text).
fn read_objects(file: &str, text: &str) -> anyhow::Result<Vec<Value>> {
    let mut objects = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document).with_context(|| format!("{file}: document {}", index + 1))?;
        flatten(value, &mut objects).with_context(|| format!("{file}: document {}", index + 1))?;
    }
    Ok(objects)
}

fn flatten(value: Value, out: &mut Vec<Value>) -> anyhow::Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Object(mut map) => {
            let is_list = map.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
                && map.get("items").is_some_and(Value::is_array);
            if is_list && let Some(Value::Array(items)) = map.remove("items") {
                return items.into_iter().try_for_each(|item| flatten(item, out));
            }
            out.push(Value::Object(map));
            Ok(())
        }
        other => bail!("expected a Kubernetes object, found {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_objects_missing_the_usual_fields() {
        let text = "kind: Widget\n---\n---\n{}\n---\napiVersion: v1\nkind: List\nitems: [{kind: Pod}, null]\n";
        let objects = read_objects("f", text).expect("reads");
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[0]["kind"], "Widget");
        assert_eq!(objects[2]["kind"], "Pod");
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        let err = read_objects("f.yaml", "a: 1\n---\n- x\n").expect_err("a list document");
        assert!(format!("{err:#}").contains("f.yaml: document 2"), "{err:#}");
    }
}
