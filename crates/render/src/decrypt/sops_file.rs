//! One SOPS-encrypted file opened in memory: its metadata read, the data key unwrapped, every
//! encrypted value opened under its key path, and the MAC (SHA-512 over every value in file order,
//! sealed with the data key under `lastmodified`) checked, so an altered, reordered, added or
//! removed value fails the whole file. Rules follow SOPS v3 (`sops.go`, `stores/`).

use std::collections::HashMap;

use regex::Regex;
use serde::Deserialize;
use serde_yaml_ng::Value;

use super::DecryptionKeys;
use super::cipher::{ENC_PREFIX, Plain, open_value, unwrap_age};
use super::pgp::unwrap_pgp;

/// The top-level key of SOPS's metadata in YAML and JSON files.
pub const SOPS_KEY: &str = "sops";

/// SOPS's default when a file names no rule: keys ending in `_unencrypted` stay in the clear.
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// What a MAC over only the encrypted values starts with (`sops.MACOnlyEncryptedInitialization`), so
/// it never equals a MAC over every value.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b,
    0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// A file whose MAC matched: each encrypted value (its `ENC[…]` text, unique by its random IV) with
/// its plaintext.
pub struct OpenedFile {
    /// `ENC[…]` text → plaintext.
    pub values: HashMap<String, Plain>,
}

impl std::fmt::Debug for OpenedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpenedFile({} values)", self.values.len())
    }
}

#[derive(Deserialize)]
pub(super) struct Metadata {
    #[serde(default)]
    age: Vec<AgeStanza>,
    #[serde(default)]
    pgp: Vec<PgpStanza>,
    #[serde(default)]
    key_groups: Vec<serde_yaml_ng::Value>,
    #[serde(default)]
    shamir_threshold: Option<u64>,
    #[serde(default)]
    lastmodified: String,
    #[serde(default)]
    mac: String,
    #[serde(default)]
    unencrypted_suffix: Option<String>,
    #[serde(default)]
    encrypted_suffix: Option<String>,
    #[serde(default)]
    unencrypted_regex: Option<String>,
    #[serde(default)]
    encrypted_regex: Option<String>,
    #[serde(default)]
    unencrypted_comment_regex: Option<String>,
    #[serde(default)]
    encrypted_comment_regex: Option<String>,
    #[serde(default)]
    mac_only_encrypted: bool,
    #[serde(flatten)]
    others: HashMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct AgeStanza {
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    enc: String,
}

#[derive(Deserialize)]
struct PgpStanza {
    #[serde(default)]
    fp: String,
    #[serde(default)]
    enc: String,
}

/// Which values a file keeps encrypted: exactly one rule per file (SOPS refuses more).
enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
}

impl Rule {
    fn of(metadata: &Metadata) -> Result<Self, String> {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        if non_empty(&metadata.unencrypted_comment_regex).is_some()
            || non_empty(&metadata.encrypted_comment_regex).is_some()
        {
            return Err("encrypted_comment_regex/unencrypted_comment_regex are not supported".into());
        }
        let regex = |r: String| Regex::new(&r).map_err(|e| format!("the file's regex {r:?} does not compile: {e}"));
        let mut rules = Vec::new();
        if let Some(s) = non_empty(&metadata.unencrypted_suffix) {
            rules.push(Rule::UnencryptedSuffix(s));
        }
        if let Some(s) = non_empty(&metadata.encrypted_suffix) {
            rules.push(Rule::EncryptedSuffix(s));
        }
        if let Some(r) = non_empty(&metadata.unencrypted_regex) {
            rules.push(Rule::UnencryptedRegex(regex(r)?));
        }
        if let Some(r) = non_empty(&metadata.encrypted_regex) {
            rules.push(Rule::EncryptedRegex(regex(r)?));
        }
        match rules.len() {
            0 => Ok(Rule::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.into())),
            1 => Ok(rules.remove(0)),
            _ => Err("the file names more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex".into()),
        }
    }

    /// Whether the value at `path` (its mapping keys from the top) is encrypted (`shouldBeEncrypted`).
    fn encrypts(&self, path: &[String]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            Rule::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
        }
    }
}

/// Whether `text` looks like a SOPS-encrypted YAML or JSON file (a top-level `sops` mapping with a
/// `mac`), without opening it.
pub fn carries_mac(text: &str, mac: &str) -> bool {
    text.contains(SOPS_KEY) && text.contains(mac)
}

/// Opens a SOPS-encrypted YAML or JSON file (`text`, every document of it) with `keys`.
pub fn open_file(text: &str, keys: &DecryptionKeys) -> Result<OpenedFile, String> {
    let mut documents = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        documents.push(Value::deserialize(de).map_err(|e| format!("not YAML or JSON: {e}"))?);
    }
    let metadata = documents
        .first()
        .and_then(|d| d.get(SOPS_KEY))
        .cloned()
        .ok_or("no SOPS metadata (a top-level `sops` key) in the first document")?;
    for document in &mut documents {
        if let Value::Mapping(mapping) = document {
            mapping.remove(SOPS_KEY);
        }
    }
    open_documents(&documents, metadata, keys)
}

/// Opens the values of `documents` (their SOPS metadata taken out, as `metadata`) with `keys` and
/// checks the MAC over them in order.
pub(super) fn open_documents(
    documents: &[Value],
    metadata: Value,
    keys: &DecryptionKeys,
) -> Result<OpenedFile, String> {
    let metadata: Metadata =
        serde_yaml_ng::from_value(metadata).map_err(|e| format!("the SOPS metadata does not parse: {e}"))?;
    let rule = Rule::of(&metadata)?;
    let data_key = data_key(&metadata, keys)?;
    let mut walk = Walk {
        rule,
        key: &data_key,
        mac_only_encrypted: metadata.mac_only_encrypted,
        hash: ring::digest::Context::new(&ring::digest::SHA512),
        values: HashMap::new(),
    };
    if metadata.mac_only_encrypted {
        walk.hash.update(&MAC_ONLY_ENCRYPTED_INIT);
    }
    for document in documents {
        walk.value(document, &mut Vec::new())?;
    }
    let computed: String = walk.hash.finish().as_ref().iter().map(|b| format!("{b:02X}")).collect();
    let stored = match open_value(&metadata.mac, &data_key, &metadata.lastmodified) {
        Ok(Plain::Str(mac)) => mac,
        _ => return Err("MAC mismatch: the file's MAC does not open with its data key (the file was altered)".into()),
    };
    if stored != computed {
        return Err("MAC mismatch: the file's values differ from what was encrypted (the file was altered)".into());
    }
    Ok(OpenedFile { values: walk.values })
}

/// The data key from the first age or PGP stanza one of `keys` opens.
fn data_key(metadata: &Metadata, keys: &DecryptionKeys) -> Result<Vec<u8>, String> {
    if !metadata.key_groups.is_empty() || metadata.shamir_threshold.is_some_and(|t| t > 1) {
        return Err("key groups (Shamir secret sharing) are not supported; encrypt for age or PGP recipients".into());
    }
    if metadata.age.is_empty() && metadata.pgp.is_empty() {
        let mut others: Vec<&str> = ["kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"]
            .into_iter()
            .filter(|k| metadata.others.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        others.sort();
        return Err(format!(
            "the file is encrypted for {} only; lockstep decrypts files with age or PGP recipients",
            if others.is_empty() { "no known key".to_string() } else { others.join(", ") }
        ));
    }
    if keys.is_empty() {
        return Err("no age or PGP key to decrypt with".into());
    }
    if keys.has_age() {
        for stanza in &metadata.age {
            if let Some(key) = unwrap_age(&stanza.enc, keys)? {
                return Ok(key);
            }
        }
    }
    for stanza in &metadata.pgp {
        if let Some(key) = unwrap_pgp(&stanza.enc, keys.pgp())? {
            return Ok(key);
        }
    }
    let recipients: Vec<String> = metadata
        .age
        .iter()
        .map(|s| s.recipient.clone())
        .chain(metadata.pgp.iter().map(|s| format!("PGP {}", s.fp)))
        .collect();
    Err(format!("none of the decryption keys is a recipient of the file ({})", recipients.join(", ")))
}

/// The walk over the file's values in order: opens the encrypted ones and feeds the MAC.
struct Walk<'a> {
    rule: Rule,
    key: &'a [u8],
    mac_only_encrypted: bool,
    hash: ring::digest::Context,
    values: HashMap<String, Plain>,
}

impl Walk<'_> {
    fn value(&mut self, value: &Value, path: &mut Vec<String>) -> Result<(), String> {
        match value {
            Value::Mapping(mapping) => {
                for (key, value) in mapping {
                    let Some(key) = key.as_str() else {
                        return Err(format!("a key that is not a string under {:?}", path.join(".")));
                    };
                    path.push(key.to_string());
                    self.value(value, path)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Sequence(items) => items.iter().try_for_each(|item| self.value(item, path)),
            Value::Tagged(tagged) => self.value(&tagged.value, path),
            Value::Null => Ok(()),
            leaf => self.leaf(leaf, path),
        }
    }

    fn leaf(&mut self, value: &Value, path: &[String]) -> Result<(), String> {
        let encrypted = self.rule.encrypts(path);
        let plain = if encrypted {
            let Value::String(sealed) = value else {
                return Err(format!("{} should be encrypted but is not a string", path.join(".")));
            };
            let plain = open_value(sealed, self.key, &format!("{}:", path.join(":")))
                .map_err(|e| format!("{}: {e}", path.join(".")))?;
            if sealed.starts_with(ENC_PREFIX) {
                self.values.insert(sealed.clone(), plain.clone());
            }
            plain
        } else {
            clear_value(value)
        };
        if !self.mac_only_encrypted || encrypted {
            self.hash.update(&plain.mac_bytes());
        }
        Ok(())
    }
}

/// A value left in the clear, as SOPS's YAML and JSON stores type it.
fn clear_value(value: &Value) -> Plain {
    match value {
        Value::Bool(b) => Plain::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Plain::Int(i),
            (None, Some(f)) if n.is_f64() => Plain::Float(f),
            _ => Plain::Str(n.to_string()),
        },
        Value::String(s) => Plain::Str(s.clone()),
        _ => Plain::Str(String::new()),
    }
}
