//! Secret entries that are a whole SOPS-encrypted file, as `secretGenerator` `files:` puts one
//! (`files: [config.yaml]` with `config.yaml` encrypted by sops): the entry's text is opened and
//! MAC-checked in memory and replaced by the decrypted file, emitted in the format the entry's key
//! names, as Flux does (`.yaml`/`.yml`, `.json`, `.env`; any other key takes sops's binary format,
//! whose `data` value is the file's bytes). The entry holds the whole file, so it is opened from
//! the entry itself; the snapshot is searched only to name the file in an error.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use super::DecryptionKeys;
use super::cipher::{ENC_PREFIX, Plain};
use super::dotenv::{MAC_KEY, SOPS_PREFIX, open_dotenv};
use super::generated::{decode_base64 as decode, locate_identical};
use super::sops_file::{SOPS_KEY, open_file};

/// How an encrypted entry was written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    /// sops's dotenv store.
    Dotenv,
    /// sops's YAML or JSON store (the binary store is JSON with a single `data` value).
    Tree,
}

/// The format of an entry's text when it is a whole SOPS-encrypted file (by the markers Flux looks
/// for), else `None`.
fn encrypted_format(text: &str) -> Option<Format> {
    if text.split('\n').any(|l| l.starts_with(&format!("{MAC_KEY}={ENC_PREFIX}"))) {
        return Some(Format::Dotenv);
    }
    let marked = text.contains(&format!("mac: {ENC_PREFIX}")) || text.contains(&format!("\"mac\": \"{ENC_PREFIX}"));
    (marked && text.contains(SOPS_KEY)).then_some(Format::Tree)
}

/// The `data` entries of a Secret that are whole SOPS-encrypted files.
pub fn encrypted_entries(object: &Value) -> Vec<String> {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return Vec::new();
    }
    let Some(Value::Object(data)) = object.get("data") else { return Vec::new() };
    data.iter()
        .filter(|(_, v)| v.as_str().and_then(decode).as_deref().and_then(encrypted_format).is_some())
        .map(|(k, _)| k.clone())
        .collect()
}

/// The Secret with each entry that is a whole SOPS-encrypted file replaced by the decrypted file.
/// An error names the entry, and the file of `root` it was copied from when one is found; never a
/// value.
pub fn decrypt_entries(root: &Path, object: &Value, keys: &DecryptionKeys) -> Result<Value, (Option<String>, String)> {
    let mut object = object.clone();
    for key in encrypted_entries(&object) {
        let Some(text) = object["data"][&key].as_str().and_then(decode) else { continue };
        let plain = decrypt_entry(&key, &text, keys)
            .map_err(|e| (locate_identical(root, &text), format!("data.{key} (a SOPS-encrypted file): {e}")))?;
        object["data"][&key] = Value::String(STANDARD.encode(plain));
    }
    Ok(object)
}

/// The Secret with each entry that is a whole SOPS-encrypted file shown as `mask`.
pub fn mask_entries(object: &mut Value, mask: &str) {
    for key in encrypted_entries(object) {
        object["data"][&key] = Value::String(mask.to_string());
    }
}

fn decrypt_entry(key: &str, text: &str, keys: &DecryptionKeys) -> Result<Vec<u8>, String> {
    match encrypted_format(text) {
        Some(Format::Dotenv) => {
            let opened = open_dotenv(text, keys)?;
            let mut out = String::new();
            for line in text.split('\n').filter(|l| !l.is_empty() && !l.starts_with('#')) {
                let Some((name, value)) = line.split_once('=') else { continue };
                if name.starts_with(SOPS_PREFIX) {
                    continue;
                }
                let value = match opened.values.get(value) {
                    Some(Plain::Str(plain)) => plain.replace('\n', "\\n"),
                    Some(other) => String::from_utf8_lossy(&other.mac_bytes()).into_owned(),
                    None => value.to_string(),
                };
                out.push_str(&format!("{name}={value}\n"));
            }
            Ok(out.into_bytes())
        }
        Some(Format::Tree) => {
            let opened = open_file(text, keys)?;
            let mut documents = Vec::new();
            for de in serde_yaml_ng::Deserializer::from_str(text) {
                let document = serde_yaml_ng::Value::deserialize(de).map_err(|e| format!("not YAML or JSON: {e}"))?;
                let mut document: Value =
                    serde_json::to_value(document).map_err(|e| format!("not representable as JSON: {e}"))?;
                if let Value::Object(map) = &mut document {
                    map.remove(SOPS_KEY);
                }
                replace_values(&mut document, &opened.values);
                documents.push(document);
            }
            emit(key, &documents)
        }
        None => Err("not a SOPS-encrypted file".into()),
    }
}

fn replace_values(value: &mut Value, values: &std::collections::HashMap<String, Plain>) {
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| replace_values(v, values)),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_values(v, values)),
        Value::String(s) => {
            if let Some(plain) = values.get(s.as_str()) {
                *value = plain.to_json();
            }
        }
        _ => {}
    }
}

/// The decrypted documents in the format `key` names.
fn emit(key: &str, documents: &[Value]) -> Result<Vec<u8>, String> {
    let yaml = |d: &Value| serde_yaml_ng::to_string(d).map_err(|e| e.to_string());
    if key.ends_with(".yaml") || key.ends_with(".yml") {
        return Ok(documents.iter().map(yaml).collect::<Result<Vec<_>, _>>()?.join("---\n").into_bytes());
    }
    if key.ends_with(".json") || key.ends_with(".dockerconfigjson") {
        let [document] = documents else { return Err("a JSON entry with more than one document".into()) };
        return serde_json::to_vec_pretty(document).map_err(|e| e.to_string());
    }
    match documents {
        [Value::Object(map)] if map.len() == 1 => match map.get("data") {
            Some(Value::String(data)) => Ok(data.clone().into_bytes()),
            _ => Err("name the entry .yaml, .json or .env, or encrypt the file in sops's binary format".into()),
        },
        _ => Err("name the entry .yaml, .json or .env, or encrypt the file in sops's binary format".into()),
    }
}
