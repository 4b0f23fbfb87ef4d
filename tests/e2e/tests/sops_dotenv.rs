//! SOPS beyond YAML and age, over a real git server: a Secret that Kustomize generates from a
//! SOPS-encrypted dotenv file (`secretGenerator` `envs:`) is applied with the decrypted values and
//! without the `sops_*` keys, its plaintext never in the render cache directory or the controller
//! log, and a tampered file stops the pass with `DecryptionFailed` (nothing applied, nothing
//! pruned); a whole encrypted file a generator copies (`files:`) is applied decrypted; files
//! encrypted for a PGP key (by the real sops through gpg) are applied decrypted
//! with the armored private key from the decryption Secret.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_reason};
use lockstep_e2e::cli::lockstep_ok;
use lockstep_e2e::gitserver::HttpGitServer;
use lockstep_e2e::sops::{AgeKey, assert_never_stored, decoded, decrypting_spec, files_containing};
use lockstep_e2e::sops_pgp::PgpKey;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::Value;

const KUSTOMIZATION: &str = "resources: [keep.yaml]\nsecretGenerator:\n  - name: app-env\n    envs: [app.enc.env]\n    \
literals: [MODE=production]\n    options: {disableNameSuffixHash: true}\n  - name: app-files\n    \
files: [config.yaml=config.enc.yaml]\n    options: {disableNameSuffixHash: true}\n";

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

fn keys(secret: &Secret) -> Vec<String> {
    secret.data.as_ref().map(|d| d.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_secret_generated_from_an_encrypted_dotenv_is_applied_decrypted_and_a_tampered_one_stops_the_pass()
-> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-sops-dotenv").await?;
    let key = AgeKey::generate()?;
    let password = format!("dotenv-plaintext-{:016x}", rand::random::<u64>());
    let token = format!("dotenv-token-{:016x}", rand::random::<u64>());
    let env = format!("# credentials\nPASSWORD={password}\nUSER=app\nTOKEN={token}\nGREETING=hello\\nworld\n");
    let encrypted = key.encrypt("app.env", &env, &[])?;
    assert!(encrypted.contains("sops_mac=ENC[") && !encrypted.contains(&password), "{encrypted}");
    let config_secret = format!("files-plaintext-{:016x}", rand::random::<u64>());
    let config = format!("database:\n  host: db.internal\n  password: {config_secret}\n  port: 5432\n");
    let repo = GitRepo::new();
    repo.write("app/app.enc.env", &encrypted);
    repo.write("app/config.enc.yaml", &key.encrypt("config.yaml", &config, &[])?);
    repo.write("app/kustomization.yaml", KUSTOMIZATION);
    repo.write("app/keep.yaml", &config_map("keep"));
    repo.commit("encrypted dotenv");
    let server = HttpGitServer::start()?;
    server.publish("app", &repo)?;
    key.put_secret(&client, &ns.name, "sops-keys").await?;

    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().to_path_buf();
    let controller = ControllerProcess::start_with_cache(&ns.name, cache, &[])?;
    apply_app(&client, &ns.name, "env", decrypting_spec(&server.url("app"), &ns.name, "app", "sops-keys")).await?;
    wait_reason(&client, &ns.name, "env", "Succeeded").await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let applied = secrets.get("app-env").await?;
    assert_eq!(decoded(&applied, "PASSWORD").as_deref(), Some(password.as_str()), "applied decrypted");
    assert_eq!(decoded(&applied, "TOKEN").as_deref(), Some(token.as_str()));
    assert_eq!(decoded(&applied, "USER").as_deref(), Some("app"));
    assert_eq!(decoded(&applied, "GREETING").as_deref(), Some("hello\\nworld"), "as Kustomize reads the plain file");
    assert_eq!(decoded(&applied, "MODE").as_deref(), Some("production"), "the generator's literal is kept");
    assert_eq!(keys(&applied), ["GREETING", "MODE", "PASSWORD", "TOKEN", "USER"], "no sops_* keys");
    assert!(!serde_json::to_string(&applied)?.contains("ENC[AES256_GCM"), "no ciphertext applied");
    let files = secrets.get("app-files").await?;
    let applied_config: Value = serde_yaml_ng::from_str(&decoded(&files, "config.yaml").unwrap_or_default())?;
    let expected: Value = serde_yaml_ng::from_str(&config)?;
    assert_eq!(applied_config, expected, "the copied file is applied decrypted");

    // The render cache directory (renders, git cache, snapshots) holds the encrypted form only,
    // and the log neither.
    let renders = cache_dir.join("renders");
    assert!(files_containing(&cache_dir, "sops_mac").iter().any(|f| f.starts_with(&renders)), "cached, encrypted");
    assert_never_stored(&cache_dir, &controller.log(), &[password.as_str(), token.as_str(), config_secret.as_str()]);

    // The CLI decrypts with the local key file and shows the values masked, without sops_* keys.
    let checkout = repo.path().display().to_string();
    let key_file = key.file().display().to_string();
    let rendered = lockstep_ok(&ns.name, &["render", "env", "--path", &checkout, "--decryption-key", &key_file])?;
    assert!(rendered.contains("PASSWORD: '**SOPS**'") || rendered.contains("PASSWORD: \"**SOPS**\""), "{rendered}");
    assert!(!rendered.contains(&password) && !rendered.contains("sops_") && !rendered.contains("ENC[AES256_GCM"));

    // Tampered: a line dropped from the file (the MAC covers every value), a ConfigMap added and one
    // removed in the same commit: nothing is applied, nothing pruned.
    let tampered: String = encrypted.lines().filter(|l| !l.starts_with("USER=")).map(|l| format!("{l}\n")).collect();
    repo.write("app/app.enc.env", &tampered);
    repo.write("app/added.yaml", &config_map("added"));
    repo.write("app/kustomization.yaml", &KUSTOMIZATION.replace("[keep.yaml]", "[added.yaml]"));
    repo.remove("app/keep.yaml");
    repo.commit("tampered");
    server.publish("app", &repo)?;
    refresh(&client, &ns.name, "env").await?;
    let app = wait_reason(&client, &ns.name, "env", "DecryptionFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("app/app.enc.env") && message.contains("MAC mismatch"), "{message}");
    assert!(!message.contains(&password), "{message}");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    assert!(config_maps.get_opt("added").await?.is_none(), "nothing applied");
    assert!(config_maps.get_opt("keep").await?.is_some(), "nothing pruned");
    assert_eq!(decoded(&secrets.get("app-env").await?, "USER").as_deref(), Some("app"), "the Secret is unchanged");
    let log = controller.log();
    assert!(
        !log.contains(&password) && !log.contains(&token) && !log.contains(&config_secret),
        "a plaintext in the log"
    );
    Ok(())
}

#[tokio::test]
async fn files_encrypted_for_a_pgp_key_are_applied_decrypted() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-sops-pgp").await?;
    let key = PgpKey::generate()?;
    let password = format!("pgp-plaintext-{:016x}", rand::random::<u64>());
    let env_value = format!("pgp-dotenv-{:016x}", rand::random::<u64>());
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: {password}\n  user: app\n"
    );
    let repo = GitRepo::new();
    let regex = ["--encrypted-regex", "^(data|stringData)$"];
    repo.write("app/db.enc.yaml", &key.encrypt("db.yaml", &secret, &regex)?);
    repo.write("kust/app.enc.env", &key.encrypt("app.env", &format!("VALUE={env_value}\n"), &[])?);
    repo.write(
        "kust/kustomization.yaml",
        "secretGenerator:\n  - name: pgp-env\n    envs: [app.enc.env]\n    options: {disableNameSuffixHash: true}\n",
    );
    repo.commit("encrypted for PGP");
    let server = HttpGitServer::start()?;
    server.publish("app", &repo)?;
    key.put_secret(&client, &ns.name, "pgp-keys").await?;

    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().to_path_buf();
    let controller = ControllerProcess::start_with_cache(&ns.name, cache, &[])?;
    apply_app(&client, &ns.name, "db", decrypting_spec(&server.url("app"), &ns.name, "app", "pgp-keys")).await?;
    apply_app(&client, &ns.name, "kust", decrypting_spec(&server.url("app"), &ns.name, "kust", "pgp-keys")).await?;
    wait_reason(&client, &ns.name, "db", "Succeeded").await?;
    wait_reason(&client, &ns.name, "kust", "Succeeded").await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let applied = secrets.get("db").await?;
    assert_eq!(decoded(&applied, "password").as_deref(), Some(password.as_str()), "applied decrypted");
    assert_eq!(decoded(&applied, "user").as_deref(), Some("app"));
    let generated = secrets.get("pgp-env").await?;
    assert_eq!(decoded(&generated, "VALUE").as_deref(), Some(env_value.as_str()));
    assert_eq!(keys(&generated), ["VALUE"]);
    assert_never_stored(&cache_dir, &controller.log(), &[password.as_str(), env_value.as_str()]);
    Ok(())
}
