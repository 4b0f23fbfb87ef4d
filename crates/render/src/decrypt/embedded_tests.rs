//! Secret entries that hold a whole SOPS-encrypted file (`secretGenerator` `files:`), with files
//! encrypted by the real sops (testdata/generate.sh).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::dotenv_pgp_tests::wrapped;
use super::tests::{plain, read, test_keys};
use super::*;
use crate::Manifest;

/// The Secret `kustomize build` makes from `secretGenerator: [{name: files, files: [...]}]`: each
/// file's bytes under its key.
fn generated(files: &[(&str, &str)]) -> Manifest {
    let data: serde_json::Map<String, Value> =
        files.iter().map(|(key, text)| (key.to_string(), json!(wrapped(text)))).collect();
    let object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "files-8d7f"}, "data": data});
    Manifest { object, file: "apps (kustomize build)".into(), document: 0 }
}

fn entry(object: &Value, key: &str) -> String {
    String::from_utf8(STANDARD.decode(object["data"][key].as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn whole_encrypted_files_in_a_secret_are_replaced_by_their_plaintext_in_the_key_s_format() {
    let manifest = generated(&[
        ("config.yaml", &read("secret.enc.yaml")),
        ("settings.json", &read("secret.enc.json")),
        ("app.env", &read("app.enc.env")),
        ("tls.key", &read("tls.enc.key")),
        ("plain.txt", "not encrypted"),
    ]);
    assert!(needs_decryption(std::slice::from_ref(&manifest)));
    let root = tempfile::tempdir().unwrap();
    let decrypted = decrypt_manifests(root.path(), std::slice::from_ref(&manifest), &test_keys()).unwrap();
    let object = &decrypted[0].object;
    let yaml: Value = serde_yaml_ng::from_str(&entry(object, "config.yaml")).unwrap();
    assert_eq!(vec![yaml], plain("secret.yaml"));
    let json: Value = serde_json::from_str(&entry(object, "settings.json")).unwrap();
    assert_eq!(vec![json], plain("secret.json"));
    let env_lines: Vec<String> = read("app.env").lines().filter(|l| !l.starts_with('#')).map(String::from).collect();
    assert_eq!(entry(object, "app.env").lines().map(String::from).collect::<Vec<_>>(), env_lines);
    assert_eq!(entry(object, "tls.key"), read("tls.key"), "the binary file, byte for byte");
    assert_eq!(entry(object, "plain.txt"), "not encrypted");
    assert!(!needs_decryption(&decrypted));
}

#[test]
fn a_tampered_entry_or_an_unknown_format_is_refused_naming_the_entry() {
    let tampered = read("regex.enc.yaml").replacen("name: api", "name: evil", 1);
    assert_ne!(tampered, read("regex.enc.yaml"));
    let root = tempfile::tempdir().unwrap();
    let err = decrypt_manifests(root.path(), &[generated(&[("config.yaml", &tampered)])], &test_keys()).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("apps (kustomize build): SOPS decryption failed: data.config.yaml"), "{text}");
    assert!(text.contains("data.config.yaml (a SOPS-encrypted file): MAC mismatch"), "{text}");
    // The file the generator copied is named when the snapshot holds it.
    std::fs::create_dir_all(root.path().join("apps")).unwrap();
    std::fs::write(root.path().join("apps/config.enc.yaml"), &tampered).unwrap();
    let err = decrypt_manifests(root.path(), &[generated(&[("config.yaml", &tampered)])], &test_keys()).unwrap_err();
    assert!(err.to_string().starts_with("apps/config.enc.yaml: SOPS decryption failed: data.config.yaml"), "{err}");
    assert!(!text.contains("correct-horse"), "{text}");
    let err = decrypt_manifests(root.path(), &[generated(&[("config", &read("secret.enc.yaml"))])], &test_keys())
        .unwrap_err();
    assert!(err.to_string().contains("name the entry .yaml, .json or .env"), "{err}");
    let err = decrypt_manifests(
        root.path(),
        &[generated(&[("c.yaml", &read("secret.enc.yaml"))])],
        &DecryptionKeys::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no decryption keys"), "{err}");
}

#[test]
fn encrypted_entries_are_masked() {
    let manifest = generated(&[("config.yaml", &read("secret.enc.yaml")), ("plain.txt", "x")]);
    assert!(is_encrypted(&manifest.object));
    let shown = masked(&manifest.object);
    assert_eq!(shown["data"]["config.yaml"], json!(MASK));
    assert_eq!(shown["data"]["plain.txt"], json!(STANDARD.encode("x")));
}
