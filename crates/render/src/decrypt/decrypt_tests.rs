//! Vectors encrypted by the real sops (testdata/generate.sh, with the committed TEST-ONLY key).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::{DirectoryOptions, Manifest, RenderError, parse_manifests, render_directory};

pub(super) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/decrypt/testdata")
}

pub(super) fn read(name: &str) -> String {
    std::fs::read_to_string(testdata().join(name)).unwrap()
}

pub(super) fn test_keys() -> DecryptionKeys {
    DecryptionKeys::from_key_file(&read("test-key.txt")).unwrap()
}

/// A snapshot holding `files` (name in testdata → path in the snapshot).
pub(super) fn snapshot(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in files {
        let path = dir.path().join(to);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, read(from)).unwrap();
    }
    dir
}

pub(super) fn render(root: &Path) -> Vec<Manifest> {
    let options = DirectoryOptions { recurse: true, ..Default::default() };
    render_directory(root, root, &options).unwrap()
}

pub(super) fn plain(name: &str) -> Vec<Value> {
    parse_manifests(name, &read(name)).unwrap().into_iter().map(|m| m.object).collect()
}

pub(super) fn objects(manifests: &[Manifest]) -> Vec<Value> {
    manifests.iter().map(|m| m.object.clone()).collect()
}

#[test]
fn files_encrypted_by_sops_decrypt_to_their_plaintext() {
    for (encrypted, plaintext) in [
        ("secret.enc.yaml", "secret.yaml"),
        ("regex.enc.yaml", "regex.yaml"),
        ("unencrypted-regex.enc.yaml", "regex.yaml"),
        ("secret.enc.json", "secret.json"),
        ("multi.enc.yaml", "multi.yaml"),
        ("suffix.enc.yaml", "suffix.yaml"),
    ] {
        let root = snapshot(&[(encrypted, encrypted)]);
        let rendered = render(root.path());
        assert!(needs_decryption(&rendered), "{encrypted}");
        assert!(!serde_json::to_string(&objects(&rendered)).unwrap().contains("secret-value"), "{encrypted}");
        let decrypted = decrypt_manifests(root.path(), &rendered, &test_keys()).unwrap();
        assert_eq!(objects(&decrypted), plain(plaintext), "{encrypted}");
        assert!(!needs_decryption(&decrypted));
    }
}

#[test]
fn typed_values_keep_their_types() {
    let root = snapshot(&[("secret.enc.yaml", "s.yaml")]);
    let decrypted = decrypt_manifests(root.path(), &render(root.path()), &test_keys()).unwrap();
    let data = &decrypted[0].object["stringData"];
    assert_eq!(data["port"], json!(5432));
    assert_eq!(data["ratio"], json!(0.25));
    assert_eq!(data["enabled"], json!(true));
    assert_eq!(data["hosts"], json!(["a.example", "b.example"]));
    assert_eq!(data["nested"]["token_unencrypted"], json!("visible"));
}

#[test]
fn a_changed_clear_value_is_a_mac_mismatch_naming_the_file() {
    // encrypted_regex leaves metadata in the clear, yet the MAC covers it.
    let root = snapshot(&[("regex.enc.yaml", "apps/api.yaml")]);
    let path = root.path().join("apps/api.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("name: api", "name: evil", 1)).unwrap();
    let err = decrypt_manifests(root.path(), &render(root.path()), &test_keys()).unwrap_err();
    assert!(
        matches!(&err, RenderError::Decryption { file, message } if file == "apps/api.yaml" && message.contains("MAC mismatch")),
        "{err}"
    );
    assert_eq!(err.reason(), lockstep_api::conditions::Reason::DecryptionFailed);
}

#[test]
fn swapped_or_altered_encrypted_values_do_not_open() {
    let text = read("secret.enc.yaml");
    let enc = |key: &str| {
        let line = text.lines().find(|l| l.trim_start().starts_with(&format!("{key}:"))).unwrap();
        line.split_once(": ").unwrap().1.to_string()
    };
    let (password, user) = (enc("password"), enc("user"));
    // Each value is sealed under its key path: moved to another key, it no longer opens.
    let swapped = text.replacen(&password, "@@", 1).replacen(&user, &password, 1).replacen("@@", &user, 1);
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("s.yaml"), &swapped).unwrap();
    let err = decrypt_manifests(root.path(), &render(root.path()), &test_keys()).unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");
    assert!(!err.to_string().contains("correct-horse"), "errors never hold values: {err}");
    // A value dropped from the file changes the MAC.
    let dropped: String = text.lines().filter(|l| !l.contains("port:")).map(|l| format!("{l}\n")).collect();
    std::fs::write(root.path().join("s.yaml"), &dropped).unwrap();
    let err = decrypt_manifests(root.path(), &render(root.path()), &test_keys()).unwrap_err();
    assert!(err.to_string().contains("MAC mismatch"), "{err}");
}

#[test]
fn a_key_that_is_not_a_recipient_or_no_key_fails_naming_the_file() {
    let root = snapshot(&[("regex.enc.yaml", "api.yaml")]);
    let other = DecryptionKeys::from_key_file(&read("other-key.txt")).unwrap();
    let err = decrypt_manifests(root.path(), &render(root.path()), &other).unwrap_err();
    assert!(err.to_string().starts_with("api.yaml: SOPS decryption failed: none of the decryption keys"), "{err}");
    let err = decrypt_manifests(root.path(), &render(root.path()), &DecryptionKeys::default()).unwrap_err();
    assert!(err.to_string().contains("no decryption keys"), "{err}");
    // Both keys: the recipient's opens it.
    let mut both = other;
    both.extend(test_keys());
    assert!(decrypt_manifests(root.path(), &render(root.path()), &both).is_ok());
}

#[test]
fn an_object_changed_by_kustomize_is_decrypted_from_its_file_found_by_mac() {
    let root = snapshot(&[("regex.enc.yaml", "base/api.yaml")]);
    let mut built = render(root.path());
    let object = &mut built[0].object;
    object["metadata"]["name"] = json!("prod-api");
    object["metadata"]["labels"] = json!({"team": "platform"});
    built[0].file = "overlays/prod (kustomize build)".into();
    let decrypted = decrypt_manifests(root.path(), &built, &test_keys()).unwrap();
    let object = &decrypted[0].object;
    assert_eq!(object["metadata"]["name"], json!("prod-api"));
    assert_eq!(object["stringData"]["url"], json!("https://user:pa55@api.example/v1"));
    assert!(object.get("sops").is_none());
    // An encrypted value that is not the file's own is refused.
    let mut forged = render(root.path());
    forged[0].object["stringData"]["extra"] = forged[0].object["data"]["key"].clone();
    forged[0].object["data"]["key"] = json!("ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]");
    let err = decrypt_manifests(root.path(), &forged, &test_keys()).unwrap_err();
    assert!(err.to_string().contains("data.key: an encrypted value that is not one of the file's"), "{err}");
}

#[test]
fn an_object_whose_file_is_gone_is_refused() {
    let root = snapshot(&[("regex.enc.yaml", "api.yaml")]);
    let rendered = render(root.path());
    std::fs::remove_file(root.path().join("api.yaml")).unwrap();
    let err = decrypt_manifests(root.path(), &rendered, &test_keys()).unwrap_err();
    assert!(err.to_string().contains("no file in the repository carries"), "{err}");
}

#[test]
fn masked_objects_show_no_ciphertext_and_no_metadata() {
    let root = snapshot(&[("regex.enc.yaml", "api.yaml")]);
    let object = masked(&render(root.path())[0].object);
    assert_eq!(object["stringData"]["url"], json!(MASK));
    assert_eq!(object["metadata"]["name"], json!("api"));
    assert!(object.get("sops").is_none());
}

#[test]
fn keys_come_from_agekey_entries_only_and_a_bad_line_is_not_echoed() {
    let key = read("test-key.txt");
    let data = [("identity.agekey".to_string(), key.as_bytes().to_vec()), ("README".into(), b"not a key".to_vec())];
    let keys = DecryptionKeys::from_secret_data(data.iter().map(|(k, v)| (k, v.as_slice()))).unwrap();
    assert!(!keys.is_empty());
    assert_eq!(format!("{keys:?}"), "DecryptionKeys(1 age identities, 0 PGP keys)");
    let bad = [("x.agekey".to_string(), b"AGE-SECRET-KEY-1NOTAKEY".to_vec())];
    let err = DecryptionKeys::from_secret_data(bad.iter().map(|(k, v)| (k, v.as_slice()))).unwrap_err();
    assert!(err.contains("\"x.agekey\"") && !err.contains("NOTAKEY"), "{err}");
}

#[test]
fn unsupported_files_say_why() {
    let text = read("regex.enc.yaml");
    let pgp_only = text.replace("    age:", "    pgp_was_age:");
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.yaml"), pgp_only).unwrap();
    let err = decrypt_manifests(root.path(), &render(root.path()), &test_keys()).unwrap_err();
    assert!(err.to_string().contains("lockstep decrypts files with age or PGP recipients"), "{err}");
}

/// The render cache (memory and disk) holds the encrypted render; decryption happens after it.
#[tokio::test]
async fn the_render_cache_never_holds_plaintext() {
    let root = snapshot(&[("secret.enc.yaml", "apps/db.yaml")]);
    let cache = tempfile::tempdir().unwrap();
    let config = crate::RendererConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() };
    let renderer = crate::Renderer::new(config);
    let request = crate::RenderRequest {
        revision: "abc".into(),
        root: root.path().to_path_buf(),
        path: "apps".into(),
        kind: Some(crate::SourceKind::Directory),
        ..Default::default()
    };
    let rendered = renderer.render(&request).await.unwrap();
    let decrypted = decrypt_manifests(root.path(), &rendered.manifests, &test_keys()).unwrap();
    assert_eq!(decrypted[0].object["stringData"]["password"], json!("correct-horse-battery-staple"));
    let again = renderer.render(&request).await.unwrap();
    assert!(needs_decryption(&again.manifests), "a cache hit is still encrypted");
    let mut files = 0;
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(text.contains("ENC[AES256_GCM"), "the cached render is there, encrypted");
        assert!(!text.contains("correct-horse-battery-staple") && !text.contains("admin"), "{text}");
        files += 1;
    }
    assert_eq!(files, 1);
}
