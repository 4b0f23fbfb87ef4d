//! SOPS's dotenv store: `KEY=value` lines (`\n` in a value stands for a newline, `#` lines are
//! comments, which the MAC does not cover) and the metadata flattened into `sops_*` lines, as
//! `stores/dotenv` and `stores/flatten.go` of SOPS v3 write them (`sops_age__list_0__map_enc=…`).

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::DecryptionKeys;
use super::sops_file::{OpenedFile, open_documents};

/// The prefix of every metadata key in a dotenv file.
pub const SOPS_PREFIX: &str = "sops_";

/// The metadata key of the file's sealed MAC.
pub const MAC_KEY: &str = "sops_mac";

const MAP_SEPARATOR: &str = "__map_";
const LIST_SEPARATOR: &str = "__list_";

/// Whether `text` is a SOPS dotenv file whose sealed MAC is `mac` (a line `sops_mac=<mac>`).
pub fn carries_dotenv_mac(text: &str, mac: &str) -> bool {
    text.split('\n').any(|line| line.strip_prefix(MAC_KEY).and_then(|l| l.strip_prefix('=')) == Some(mac))
}

/// Opens a SOPS-encrypted dotenv file with `keys`, checking its MAC over every value in order.
pub fn open_dotenv(text: &str, keys: &DecryptionKeys) -> Result<OpenedFile, String> {
    let (data, metadata) = parse(text)?;
    open_documents(&[data], metadata, keys)
}

/// The file's values (a mapping in file order) and its metadata, unflattened.
fn parse(text: &str) -> Result<(Value, Value), String> {
    let mut data = Mapping::new();
    let mut metadata = Vec::new();
    for (number, line) in text.split('\n').enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {} is not KEY=value", number + 1));
        };
        let value = value.replace("\\n", "\n");
        if let Some(flattened) = key.strip_prefix(SOPS_PREFIX) {
            metadata.push((flattened, value));
        } else if data.insert(Value::String(key.to_string()), Value::String(value)).is_some() {
            return Err(format!("key {key:?} appears twice"));
        }
    }
    if metadata.is_empty() {
        return Err("no SOPS metadata (sops_* lines) in the dotenv file".into());
    }
    Ok((Value::Mapping(data), unflatten(&metadata)?))
}

/// A step of a flattened key: a mapping key or a list index.
enum Token {
    Key(String),
    Index(usize),
}

/// `age__list_0__map_enc` → `age`, `0`, `enc` (`tokenize` of flatten.go).
fn tokenize(path: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = path;
    let mut index = false;
    loop {
        let next = [(MAP_SEPARATOR, false), (LIST_SEPARATOR, true)]
            .into_iter()
            .filter_map(|(separator, is_index)| rest.find(separator).map(|at| (at, separator, is_index)))
            .min_by_key(|(at, _, _)| *at);
        let text = next.map_or(rest, |(at, _, _)| &rest[..at]);
        tokens.push(if index {
            Token::Index(text.parse().map_err(|_| format!("metadata key sops_{path}: {text:?} is not a list index"))?)
        } else {
            Token::Key(text.to_string())
        });
        let Some((at, separator, is_index)) = next else { break };
        rest = &rest[at + separator.len()..];
        index = is_index;
    }
    Ok(tokens)
}

enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

/// The metadata as a tree, as the YAML store holds it, from its flattened entries.
fn unflatten(entries: &[(&str, String)]) -> Result<Value, String> {
    let mut root = Node::Map(BTreeMap::new());
    for (path, value) in entries {
        let clash = || format!("metadata key sops_{path} clashes with another");
        let mut node = &mut root;
        for token in tokenize(path)? {
            // A fresh node is an empty map until a list index says it is a list.
            if matches!(token, Token::Index(_)) && matches!(node, Node::Map(map) if map.is_empty()) {
                *node = Node::List(BTreeMap::new());
            }
            node = match (node, token) {
                (Node::Map(map), Token::Key(key)) => map.entry(key).or_insert_with(|| Node::Map(BTreeMap::new())),
                (Node::List(list), Token::Index(i)) => list.entry(i).or_insert_with(|| Node::Map(BTreeMap::new())),
                _ => return Err(clash()),
            };
        }
        match node {
            Node::Map(map) if map.is_empty() => *node = Node::Leaf(value.clone()),
            _ => return Err(clash()),
        }
    }
    to_value(root, "")
}

fn to_value(node: Node, key: &str) -> Result<Value, String> {
    Ok(match node {
        Node::Leaf(text) => match key {
            "mac_only_encrypted" => Value::Bool(matches!(text.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True")),
            "shamir_threshold" => Value::Number(
                text.parse::<u64>().map_err(|_| format!("sops_shamir_threshold {text:?} is not a number"))?.into(),
            ),
            _ => Value::String(text),
        },
        Node::Map(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| Ok((Value::String(k.clone()), to_value(v, &k)?)))
                .collect::<Result<Mapping, String>>()?,
        ),
        Node::List(list) => {
            if list.keys().copied().ne(0..list.len()) {
                return Err("a metadata list with missing entries".into());
            }
            Value::Sequence(list.into_values().map(|v| to_value(v, "")).collect::<Result<_, _>>()?)
        }
    })
}
