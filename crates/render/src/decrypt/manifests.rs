//! Rendered objects that carry SOPS metadata, decrypted after the render (whose cache holds only
//! the encrypted form): each object's file is found in the snapshot by its MAC, opened and checked
//! whole, and the object's `ENC[…]` values are replaced by their plaintexts. Matching by the
//! sealed text rather than by position keeps Kustomize's edits (name prefixes, labels, a namespace)
//! while every decrypted value still comes from a MAC-verified file.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::DecryptionKeys;
use super::cipher::ENC_PREFIX;
use super::dotenv::open_dotenv;
use super::embedded::{decrypt_entries, encrypted_entries, mask_entries};
use super::generated::{decrypt_generated, generated_mac, locate_dotenv, mask_generated};
use super::sops_file::{OpenedFile, SOPS_KEY, carries_mac, open_file};
use crate::{Manifest, RenderError};

/// Files larger than this are not searched for an object's SOPS metadata.
pub(super) const MAX_SEARCHED_FILE: u64 = 4 * 1024 * 1024;

/// What the decryption Secret must hold when a render needs keys and none are given.
const NO_KEYS: &str = "no decryption keys: set spec.decryption.secretRef (an .agekey or .asc entry)";

/// The sealed MAC of an object that carries SOPS metadata (`sops.mac` and `sops.lastmodified`).
pub fn sops_mac(object: &Value) -> Option<&str> {
    let sops = object.get(SOPS_KEY)?;
    sops.get("lastmodified")?;
    sops.get("mac")?.as_str()
}

/// Whether a rendered object is SOPS-encrypted: it carries SOPS metadata, or it is a Secret
/// Kustomize generated from an encrypted dotenv file or with a whole encrypted file as an entry.
pub fn is_encrypted(object: &Value) -> bool {
    sops_mac(object).is_some() || generated_mac(object).is_some() || !encrypted_entries(object).is_empty()
}

/// Whether any rendered object is SOPS-encrypted, so keys must be looked up.
pub fn needs_decryption(manifests: &[Manifest]) -> bool {
    manifests.iter().any(|m| is_encrypted(&m.object))
}

/// The manifests with every SOPS-encrypted object decrypted; the others as they are. `root` is
/// the snapshot the render read. Errors name the file and never a value.
pub fn decrypt_manifests(
    root: &Path,
    manifests: &[Manifest],
    keys: &DecryptionKeys,
) -> Result<Vec<Manifest>, RenderError> {
    let mut opened: HashMap<String, OpenedFile> = HashMap::new();
    let mut out = Vec::with_capacity(manifests.len());
    let failed = |file: &str, message: String| RenderError::Decryption { file: file.to_string(), message };
    for manifest in manifests {
        let object = if let Some(mac) = generated_mac(&manifest.object) {
            if !opened.contains_key(&mac) {
                let (file, text) = locate_dotenv(root, &mac).ok_or_else(|| {
                    failed(
                        &manifest.file,
                        "a Secret generated from a SOPS-encrypted dotenv file that no file in the repository \
                         carries"
                            .into(),
                    )
                })?;
                if keys.is_empty() {
                    return Err(failed(&file, NO_KEYS.into()));
                }
                opened.insert(mac.clone(), open_dotenv(&text, keys).map_err(|e| failed(&file, e))?);
            }
            let Some(file) = opened.get(&mac) else { continue };
            decrypt_generated(&manifest.object, file).map_err(|e| failed(&manifest.file, e))?
        } else if let Some(mac) = sops_mac(&manifest.object) {
            if !opened.contains_key(mac) {
                let (file, text) = locate(root, &manifest.file, mac).ok_or_else(|| {
                    failed(&manifest.file, "no file in the repository carries this object's SOPS metadata".into())
                })?;
                if keys.is_empty() {
                    return Err(failed(&file, NO_KEYS.into()));
                }
                let file_opened = open_file(&text, keys).map_err(|e| failed(&file, e))?;
                opened.insert(mac.to_string(), file_opened);
            }
            let Some(file) = opened.get(mac) else { continue };
            let mut object = manifest.object.clone();
            if let Value::Object(map) = &mut object {
                map.remove(SOPS_KEY);
            }
            substitute(&mut object, &file.values, &mut Vec::new()).map_err(|e| failed(&manifest.file, e))?;
            object
        } else {
            manifest.object.clone()
        };
        let object = if encrypted_entries(&object).is_empty() {
            object
        } else if keys.is_empty() {
            return Err(failed(&manifest.file, NO_KEYS.into()));
        } else {
            decrypt_entries(root, &object, keys)
                .map_err(|(file, e)| failed(file.as_deref().unwrap_or(&manifest.file), e))?
        };
        out.push(Manifest { object, file: manifest.file.clone(), document: manifest.document });
    }
    Ok(out)
}

/// What stands for a decrypted value where plaintext must not be shown (`lockstep render`).
pub const MASK: &str = "**SOPS**";

/// `object` (as rendered, still encrypted) without its SOPS metadata and with every encrypted value
/// shown as [`MASK`]: what a decrypted object looks like with its secrets hidden.
pub fn masked(object: &Value) -> Value {
    let mut object = object.clone();
    mask_entries(&mut object, MASK);
    if generated_mac(&object).is_some() {
        mask_generated(&mut object, MASK);
        return object;
    }
    if let Value::Object(map) = &mut object {
        map.remove(SOPS_KEY);
    }
    mask(&mut object);
    object
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(mask),
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::String(s) if s.starts_with(ENC_PREFIX) => *s = MASK.to_string(),
        _ => {}
    }
}

/// Replaces every `ENC[…]` string in `value` by its plaintext from `values`.
fn substitute(
    value: &mut Value,
    values: &HashMap<String, super::cipher::Plain>,
    path: &mut Vec<String>,
) -> Result<(), String> {
    match value {
        Value::Object(map) => map.iter_mut().try_for_each(|(k, v)| {
            path.push(k.clone());
            let result = substitute(v, values, path);
            path.pop();
            result
        }),
        Value::Array(items) => items.iter_mut().try_for_each(|v| substitute(v, values, path)),
        Value::String(s) if s.starts_with(ENC_PREFIX) => match values.get(s.as_str()) {
            Some(plain) => {
                *value = plain.to_json();
                Ok(())
            }
            None => Err(format!("{}: an encrypted value that is not one of the file's", path.join("."))),
        },
        _ => Ok(()),
    }
}

/// The file (repository-relative, and its text) whose SOPS metadata carries `mac`: the object's own
/// file when it is one, else the first YAML or JSON file of the snapshot that carries it.
fn locate(root: &Path, file: &str, mac: &str) -> Option<(String, String)> {
    let own = Path::new(file);
    let plain_relative = own.components().all(|c| matches!(c, Component::Normal(_)));
    if plain_relative
        && let Some(text) = read_small(&root.join(own))
        && carries_mac(&text, mac)
    {
        return Some((file.to_string(), text));
    }
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    files.into_iter().find_map(|path| {
        let text = read_small(&path)?;
        carries_mac(&text, mac).then(|| (path.strip_prefix(root).unwrap_or(&path).display().to_string(), text))
    })
}

/// A regular file's text (symlinks are not followed), if small enough.
pub(super) fn read_small(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    (meta.is_file() && meta.len() <= MAX_SEARCHED_FILE).then(|| std::fs::read_to_string(path).ok()).flatten()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Ok(file_type) = entry.file_type() else { continue };
        let path = entry.path();
        if file_type.is_dir() && entry.file_name() != ".git" {
            collect(&path, out);
        } else if file_type.is_file()
            && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
        {
            out.push(path);
        }
    }
}
