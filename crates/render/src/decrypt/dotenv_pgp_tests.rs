//! Dotenv files and PGP recipients, with vectors encrypted by the real sops (testdata/generate.sh).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::tests::{objects, plain, read, render, snapshot, test_keys};
use super::*;
use crate::{Manifest, RenderError};

const ENV_FILE: &str = "apps/secrets/app.enc.env";

/// Base64 as Kustomize writes a long value: wrapped at 76 characters.
pub(super) fn wrapped(value: &str) -> String {
    let encoded = STANDARD.encode(value);
    let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    if lines.len() > 1 { format!("{}\n", lines.join("\n")) } else { encoded }
}

/// The Secret `kustomize build` makes from `secretGenerator: [{name: app, envs: [file], literals:
/// [LITERAL=literal]}]`: every `KEY=value` line's value, as written, base64-encoded.
fn generated(env_text: &str) -> Value {
    let mut data = Map::new();
    for line in env_text.lines().map(str::trim_start).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, value) = line.split_once('=').unwrap();
        data.insert(key.to_string(), json!(wrapped(value)));
    }
    data.insert("LITERAL".into(), json!(STANDARD.encode("literal")));
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-7h2b9c"}, "type": "Opaque", "data": data})
}

fn manifests(secret: Value) -> Vec<Manifest> {
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    vec![
        Manifest { object: secret, file: "apps (kustomize build)".into(), document: 0 },
        Manifest { object: config_map, file: "apps (kustomize build)".into(), document: 1 },
    ]
}

fn decoded(object: &Value, key: &str) -> Option<String> {
    let text: String = object["data"].get(key)?.as_str()?.split_whitespace().collect();
    Some(String::from_utf8(STANDARD.decode(text).unwrap()).unwrap())
}

#[test]
fn a_secret_generated_from_an_encrypted_dotenv_file_gets_its_plaintext_and_no_sops_keys() {
    let root = snapshot(&[("app.enc.env", ENV_FILE), ("regex.enc.yaml", "apps/api.yaml")]);
    let rendered = manifests(generated(&read("app.enc.env")));
    assert!(needs_decryption(&rendered));
    let decrypted = decrypt_manifests(root.path(), &rendered, &test_keys()).unwrap();
    // What Kustomize generates from the plaintext file, as Flux applies it after decrypting.
    assert_eq!(decrypted[0].object, generated(&read("app.env")));
    let secret = &decrypted[0].object;
    assert_eq!(decoded(secret, "PASSWORD").as_deref(), Some("correct-horse-battery-staple"));
    assert_eq!(decoded(secret, "MULTILINE").as_deref(), Some("line one\\nline two"));
    assert_eq!(decoded(secret, "TOKEN_unencrypted").as_deref(), Some("visible"));
    assert!(secret["data"].as_object().unwrap().keys().all(|k| !k.starts_with("sops_")));
    assert_eq!(decrypted[1], rendered[1]);
    assert!(!needs_decryption(&decrypted));
}

#[test]
fn a_tampered_dotenv_file_is_a_mac_mismatch_naming_the_file() {
    let tampered = read("app.enc.env").replace("TOKEN_unencrypted=visible", "TOKEN_unencrypted=evil");
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join(ENV_FILE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &tampered).unwrap();
    let err = decrypt_manifests(root.path(), &manifests(generated(&tampered)), &test_keys()).unwrap_err();
    assert!(
        matches!(&err, RenderError::Decryption { file, message } if file == ENV_FILE && message.contains("MAC mismatch")),
        "{err}"
    );
    // A dropped line changes the MAC too.
    let dropped: String =
        read("app.enc.env").lines().filter(|l| !l.starts_with("USER=")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, &dropped).unwrap();
    let err = decrypt_manifests(root.path(), &manifests(generated(&dropped)), &test_keys()).unwrap_err();
    assert!(err.to_string().contains("MAC mismatch") && !err.to_string().contains("correct-horse"), "{err}");
}

#[test]
fn mac_only_encrypted_dotenv_files_leave_clear_values_out_of_the_mac() {
    // `sops_mac_only_encrypted=true` is a string in dotenv; read as the boolean it is.
    let text = read("mac-only.enc.env").replace("TOKEN_unencrypted=visible", "TOKEN_unencrypted=changed");
    assert_ne!(text, read("mac-only.enc.env"));
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("apps/secrets")).unwrap();
    std::fs::write(root.path().join(ENV_FILE), &text).unwrap();
    let decrypted = decrypt_manifests(root.path(), &manifests(generated(&text)), &test_keys()).unwrap();
    assert_eq!(decoded(&decrypted[0].object, "PASSWORD").as_deref(), Some("correct-horse-battery-staple"));
    assert_eq!(decoded(&decrypted[0].object, "TOKEN_unencrypted").as_deref(), Some("changed"));
}

#[test]
fn a_missing_file_key_or_foreign_value_is_refused() {
    let secret = generated(&read("app.enc.env"));
    let empty = tempfile::tempdir().unwrap();
    let err = decrypt_manifests(empty.path(), &manifests(secret.clone()), &test_keys()).unwrap_err();
    assert!(err.to_string().starts_with("apps (kustomize build): SOPS decryption failed: a Secret generated"), "{err}");
    let root = snapshot(&[("app.enc.env", ENV_FILE)]);
    let err = decrypt_manifests(root.path(), &manifests(secret.clone()), &DecryptionKeys::default()).unwrap_err();
    assert!(err.to_string().starts_with(&format!("{ENV_FILE}: SOPS decryption failed: no decryption keys")), "{err}");
    let other = DecryptionKeys::from_key_file(&read("other-key.txt")).unwrap();
    let err = decrypt_manifests(root.path(), &manifests(secret.clone()), &other).unwrap_err();
    assert!(err.to_string().contains("none of the decryption keys is a recipient"), "{err}");
    // An encrypted value the file does not hold (another file's) is not decrypted into the Secret.
    let mut forged = secret;
    forged["data"]["EXTRA"] = json!(STANDARD.encode("ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]"));
    let err = decrypt_manifests(root.path(), &manifests(forged), &test_keys()).unwrap_err();
    assert!(err.to_string().contains("data.EXTRA: an encrypted value that is not one of the file's"), "{err}");
}

#[test]
fn a_generated_secret_is_masked_without_sops_keys() {
    let secret = generated(&read("app.enc.env"));
    assert!(is_encrypted(&secret));
    let shown = masked(&secret);
    assert_eq!(shown["data"]["PASSWORD"], json!(MASK));
    assert_eq!(shown["data"]["TOKEN_unencrypted"], json!(STANDARD.encode("visible")));
    assert_eq!(shown["data"]["LITERAL"], json!(STANDARD.encode("literal")));
    assert!(shown["data"].as_object().unwrap().keys().all(|k| !k.starts_with("sops_")));
    // A ConfigMap generated from the same file is not a Secret: not decrypted into plaintext.
    let mut config_map = secret;
    config_map["kind"] = json!("ConfigMap");
    assert!(!is_encrypted(&config_map));
}

fn pgp_keys() -> DecryptionKeys {
    let data = [("sops.asc".to_string(), read("pgp-test-key.asc").into_bytes())];
    DecryptionKeys::from_secret_data(data.iter().map(|(k, v)| (k, v.as_slice()))).unwrap()
}

#[test]
fn a_file_encrypted_for_a_pgp_key_decrypts_with_its_armored_private_key() {
    let root = snapshot(&[("pgp.enc.yaml", "apps/api.yaml")]);
    let rendered = render(root.path());
    assert!(needs_decryption(&rendered));
    let keys = pgp_keys();
    assert_eq!(format!("{keys:?}"), "DecryptionKeys(0 age identities, 1 PGP keys)");
    let decrypted = decrypt_manifests(root.path(), &rendered, &keys).unwrap();
    assert_eq!(objects(&decrypted), plain("regex.yaml"));
    // A local key file (`--decryption-key`) may be the armored key too.
    let from_file = DecryptionKeys::from_key_file(&read("pgp-test-key.asc")).unwrap();
    assert_eq!(objects(&decrypt_manifests(root.path(), &rendered, &from_file).unwrap()), plain("regex.yaml"));
    // An age key alone is not a recipient; the error names the PGP fingerprint, not a key.
    let err = decrypt_manifests(root.path(), &rendered, &test_keys()).unwrap_err();
    assert!(err.to_string().contains("none of the decryption keys is a recipient of the file (PGP "), "{err}");
    // Age and PGP keys together: the PGP one opens it.
    let mut both = test_keys();
    both.extend(keys.clone());
    assert!(decrypt_manifests(root.path(), &rendered, &both).is_ok());
    // A dotenv file's PGP stanza is flattened into sops_pgp__list_0__map_* lines.
    let root = snapshot(&[("pgp.enc.env", ENV_FILE)]);
    let rendered = manifests(generated(&read("pgp.enc.env")));
    let decrypted = decrypt_manifests(root.path(), &rendered, &keys).unwrap();
    assert_eq!(decrypted[0].object, generated(&read("app.env")));
}

#[test]
fn a_public_key_or_garbage_in_an_asc_entry_fails_naming_the_entry_only() {
    let secret_key = read("pgp-test-key.asc");
    let body: String = secret_key.lines().filter(|l| !l.starts_with("-----")).collect();
    let garbage =
        format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n-----END PGP PRIVATE KEY BLOCK-----\n", &body[..40]);
    let data = [("bad.asc".to_string(), garbage.into_bytes())];
    let err = DecryptionKeys::from_secret_data(data.iter().map(|(k, v)| (k, v.as_slice()))).unwrap_err();
    assert!(err.contains("\"bad.asc\"") && !err.contains(&body[..40]), "{err}");
}
