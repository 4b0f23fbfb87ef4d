//! Secrets that Kustomize generated from a SOPS-encrypted dotenv file (`secretGenerator` `envs:`):
//! the generated data holds the file's `ENC[…]` values and its `sops_*` metadata lines. The file is
//! found in the snapshot by its sealed MAC and opened in memory (never written out decrypted);
//! each encrypted value is replaced by its plaintext and the `sops_*` keys are dropped, so the
//! Secret matches what Flux applies after decrypting the file before `kustomize build`.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::cipher::{ENC_PREFIX, Plain};
use super::dotenv::{MAC_KEY, SOPS_PREFIX, carries_dotenv_mac};
use super::manifests::{MAX_SEARCHED_FILE, read_small};
use super::sops_file::OpenedFile;

/// The fields of a Secret whose entries may come from a dotenv file, and whether they are base64.
const FIELDS: [(&str, bool); 2] = [("data", true), ("stringData", false)];

/// The sealed MAC of a Secret generated from a SOPS-encrypted dotenv file: its `sops_mac` entry.
pub fn generated_mac(object: &Value) -> Option<String> {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return None;
    }
    FIELDS.iter().find_map(|(field, base64)| entry(object.get(field)?.get(MAC_KEY)?, *base64))
}

/// An entry's text: base64-decoded for `data`.
fn entry(value: &Value, base64: bool) -> Option<String> {
    let text = value.as_str()?;
    if base64 { decode_base64(text) } else { Some(text.to_string()) }
}

/// A `data` entry's text. Kustomize wraps long base64 values over lines, which Kubernetes (Go's
/// decoder) accepts, so line breaks and spaces are skipped.
pub(super) fn decode_base64(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    String::from_utf8(STANDARD.decode(compact).ok()?).ok()
}

/// The dotenv file (repository-relative, and its text) whose `sops_mac` line is `mac`: the first
/// in path order of the regular files of the snapshot.
pub fn locate_dotenv(root: &Path, mac: &str) -> Option<(String, String)> {
    let mut files = Vec::new();
    collect_all(root, &mut files);
    files.sort();
    files.into_iter().find_map(|path| {
        let text = read_small(&path)?;
        carries_dotenv_mac(&text, mac).then(|| (path.strip_prefix(root).unwrap_or(&path).display().to_string(), text))
    })
}

/// The file (repository-relative) whose text is exactly `text`, to name the file a generator copied
/// into an entry.
pub fn locate_identical(root: &Path, text: &str) -> Option<String> {
    let mut files = Vec::new();
    collect_all(root, &mut files);
    files.sort();
    files.into_iter().find_map(|path| {
        (read_small(&path)? == text).then(|| path.strip_prefix(root).unwrap_or(&path).display().to_string())
    })
}

fn collect_all(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let Ok(file_type) = entry.file_type() else { continue };
        if file_type.is_dir() && entry.file_name() != ".git" {
            collect_all(&entry.path(), out);
        } else if file_type.is_file() && entry.metadata().is_ok_and(|m| m.len() <= MAX_SEARCHED_FILE) {
            out.push(entry.path());
        }
    }
}

/// The generated Secret with `file`'s plaintexts in place of its encrypted values and without the
/// `sops_*` entries. A value is written back as Kustomize reads it from the decrypted file (a
/// newline as `\n`). An `ENC[…]` value that is not the file's own is refused.
pub fn decrypt_generated(object: &Value, file: &OpenedFile) -> Result<Value, String> {
    let mut object = object.clone();
    for (field, base64) in FIELDS {
        let Some(Value::Object(entries)) = object.get_mut(field) else { continue };
        entries.retain(|key, _| !key.starts_with(SOPS_PREFIX));
        for (key, value) in entries.iter_mut() {
            let Some(text) = entry(value, base64) else { continue };
            if !text.starts_with(ENC_PREFIX) {
                continue;
            }
            let plain = match file.values.get(&text) {
                Some(Plain::Str(plain)) => plain.replace('\n', "\\n"),
                Some(other) => String::from_utf8_lossy(&other.mac_bytes()).into_owned(),
                None => return Err(format!("{field}.{key}: an encrypted value that is not one of the file's")),
            };
            *value = Value::String(if base64 { STANDARD.encode(plain) } else { plain });
        }
    }
    Ok(object)
}

/// The generated Secret as it is shown with its secrets hidden: the `sops_*` entries dropped and
/// every encrypted value replaced by `mask`.
pub fn mask_generated(object: &mut Value, mask: &str) {
    for (field, base64) in FIELDS {
        let Some(Value::Object(entries)) = object.get_mut(field) else { continue };
        entries.retain(|key, _| !key.starts_with(SOPS_PREFIX));
        for value in entries.values_mut() {
            if entry(value, base64).is_some_and(|text| text.starts_with(ENC_PREFIX)) {
                *value = Value::String(mask.to_string());
            }
        }
    }
}
