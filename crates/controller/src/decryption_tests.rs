use super::*;
use lockstep_api::{ApplicationSpec, DecryptionSecretRef};

fn sops(name: &str) -> Decryption {
    Decryption { provider: SOPS_PROVIDER.into(), secret_ref: Some(DecryptionSecretRef { name: name.into() }) }
}

fn app(decryption: Option<Decryption>) -> Application {
    let mut app = Application::new("web", ApplicationSpec { decryption, ..Default::default() });
    app.metadata.namespace = Some("team".into());
    app
}

#[test]
fn the_application_s_own_secret_wins_over_the_project_s() {
    let own = key_secret(&app(Some(sops("app-keys"))), Some(&sops("project-keys")), "lockstep").unwrap();
    assert_eq!(own, Some(KeySecret { namespace: "team".into(), name: "app-keys".into() }));
    let project = key_secret(&app(None), Some(&sops("project-keys")), "lockstep").unwrap();
    assert_eq!(project, Some(KeySecret { namespace: "lockstep".into(), name: "project-keys".into() }));
    assert_eq!(key_secret(&app(None), None, "lockstep").unwrap(), None);
}

#[test]
fn only_the_sops_provider_is_known() {
    let vault = Decryption { provider: "vault".into(), ..sops("x") };
    let err = key_secret(&app(Some(vault)), None, "lockstep").unwrap_err();
    assert!(err.contains("\"vault\""), "{err}");
    let unnamed = Decryption { secret_ref: None, ..sops("") };
    assert_eq!(key_secret(&app(Some(unnamed)), None, "lockstep").unwrap(), None);
}
