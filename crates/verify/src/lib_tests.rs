use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{KeyDetails, Password};

use super::*;
use crate::mode::ResolvedThrough;

const NOW: u64 = 1_800_000_000;

const COMMIT_HEAD: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 1111111111111111111111111111111111111111\n\
author A U Thor <a@example.com> 1700000000 +0000\n\
committer A U Thor <a@example.com> 1700000000 +0000\n";

fn pgp_key(name: &str, signing_subkey: bool) -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(!signing_subkey)
        .primary_user_id(format!("{name} <{name}@example.com>"));
    if signing_subkey {
        let mut sub = SubkeyParamsBuilder::default();
        sub.key_type(KeyType::Ed25519Legacy).can_sign(true);
        params.subkeys(vec![sub.build().unwrap()]);
    }
    params.build().unwrap().generate(rand08::thread_rng()).unwrap()
}

fn armored_public(key: &SignedSecretKey) -> String {
    SignedPublicKey::from(key.clone()).to_armored_string(ArmorOptions::default()).unwrap()
}

fn pgp_sign(key: &SignedSecretKey, payload: &[u8]) -> String {
    let sig = DetachedSignature::sign_binary_data(
        rand08::thread_rng(),
        &key.primary_key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        payload,
    )
    .unwrap();
    sig.to_armored_string(ArmorOptions::default()).unwrap()
}

fn pgp_sign_with_subkey(key: &SignedSecretKey, payload: &[u8]) -> String {
    let sig = DetachedSignature::sign_binary_data(
        rand08::thread_rng(),
        &key.secret_subkeys[0].key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        payload,
    )
    .unwrap();
    sig.to_armored_string(ArmorOptions::default()).unwrap()
}

/// A commit object as git writes a signed one: `gpgsig` after `committer`, each further line of
/// the signature indented by one space.
fn signed_commit(message: &str, sign: impl Fn(&[u8]) -> String) -> Vec<u8> {
    let payload = format!("{COMMIT_HEAD}\n{message}");
    let signature = sign(payload.as_bytes());
    let header = signature.trim_end().replace('\n', "\n ");
    format!("{COMMIT_HEAD}gpgsig {header}\n\n{message}").into_bytes()
}

fn ring(origin: &str, name: &str, value: &str) -> Keyring {
    Keyring::from_sources(&[KeySource { origin: origin.into(), entries: vec![(name.into(), value.into())] }])
}

#[test]
fn commit_signature_splits_back_into_what_was_signed() {
    let raw =
        signed_commit("hello\n", |_| "-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n".into());
    let signed = split_signature(ObjectKind::Commit, &raw).unwrap();
    assert_eq!(signed.format, SignatureFormat::OpenPgp);
    assert_eq!(String::from_utf8(signed.payload).unwrap(), format!("{COMMIT_HEAD}\nhello\n"));
    assert_eq!(signed.signature, "-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n");
    let unsigned = format!("{COMMIT_HEAD}\nhello\n");
    assert_eq!(split_signature(ObjectKind::Commit, unsigned.as_bytes()), None);
    assert_eq!(
        verify_object(ObjectKind::Commit, unsigned.as_bytes(), &Keyring::default(), NOW),
        Err(Failure::Unsigned)
    );
}

#[test]
fn openpgp_commit_verifies_against_its_key_and_nothing_else() {
    let alice = pgp_key("alice", false);
    let mallory = pgp_key("mallory", false);
    let keys = ring("Secret lockstep-system/keys", "alice.asc", &armored_public(&alice));
    assert!(keys.problems.is_empty(), "{:?}", keys.problems);

    let raw = signed_commit("deploy\n", |p| pgp_sign(&alice, p));
    let signer = verify_object(ObjectKind::Commit, &raw, &keys, NOW).unwrap();
    assert_eq!(signer.identity, "alice <alice@example.com>");
    assert_eq!(signer.fingerprint, format!("{:X}", alice.fingerprint()));
    assert_eq!(signer.format, SignatureFormat::OpenPgp);
    assert_eq!(signer.key_source, "Secret lockstep-system/keys");

    let forged = signed_commit("deploy\n", |p| pgp_sign(&mallory, p));
    let err = verify_object(ObjectKind::Commit, &forged, &keys, NOW).unwrap_err();
    assert_eq!(err, Failure::UnknownKey { key: format!("{:X}", mallory.fingerprint()) });

    let tampered = String::from_utf8(raw).unwrap().replace("deploy", "deploy evil").into_bytes();
    let err = verify_object(ObjectKind::Commit, &tampered, &keys, NOW).unwrap_err();
    assert!(matches!(err, Failure::BadSignature { ref signer, .. } if signer == "alice <alice@example.com>"), "{err}");
}

#[test]
fn a_signing_subkey_verifies_and_names_the_primary_key() {
    let bob = pgp_key("bob", true);
    let keys = ring("ConfigMap lockstep-system/keys", "bob", &armored_public(&bob));
    let raw = signed_commit("sub\n", |p| pgp_sign_with_subkey(&bob, p));
    let signer = verify_object(ObjectKind::Commit, &raw, &keys, NOW).unwrap();
    assert_eq!(signer.fingerprint, format!("{:X}", bob.fingerprint()));
}

#[test]
fn several_key_blocks_in_one_value_and_garbage_is_a_problem() {
    let one = armored_public(&pgp_key("one", false));
    let two = armored_public(&pgp_key("two", false));
    let keys = ring("Secret ns/k", "all", &format!("{one}\n{two}"));
    assert_eq!(keys.fingerprints().len(), 2);
    let keys = ring("Secret ns/k", "junk", "not a key at all");
    assert!(keys.is_empty());
    assert_eq!(keys.problems.len(), 1, "{:?}", keys.problems);
    assert!(keys.problems[0].starts_with("Secret ns/k key junk line 1"), "{:?}", keys.problems);
}

fn ssh_key() -> ssh_key::PrivateKey {
    ssh_key::PrivateKey::random(&mut rand08::thread_rng(), ssh_key::Algorithm::Ed25519).unwrap()
}

fn ssh_sign(key: &ssh_key::PrivateKey, namespace: &str, payload: &[u8]) -> String {
    key.sign(namespace, ssh_key::HashAlg::Sha512, payload).unwrap().to_pem(ssh_key::LineEnding::LF).unwrap()
}

#[test]
fn ssh_commit_verifies_against_allowed_signers() {
    let key = ssh_key();
    let public = key.public_key().to_openssh().unwrap();
    let keys = ring("Secret ns/signers", "allowed_signers", &format!("# team\ndev@example.com {public}\n"));
    assert!(keys.problems.is_empty(), "{:?}", keys.problems);
    let raw = signed_commit("ssh\n", |p| ssh_sign(&key, "git", p));
    let signer = verify_object(ObjectKind::Commit, &raw, &keys, NOW).unwrap();
    assert_eq!(signer.identity, "dev@example.com");
    assert!(signer.fingerprint.starts_with("SHA256:"), "{}", signer.fingerprint);
    assert_eq!(signer.format, SignatureFormat::Ssh);

    let other = ssh_key();
    let err = verify_object(ObjectKind::Commit, &signed_commit("ssh\n", |p| ssh_sign(&other, "git", p)), &keys, NOW)
        .unwrap_err();
    assert!(matches!(err, Failure::UnknownKey { .. }), "{err}");

    let wrong_namespace = signed_commit("ssh\n", |p| ssh_sign(&key, "file", p));
    assert!(matches!(verify_object(ObjectKind::Commit, &wrong_namespace, &keys, NOW), Err(Failure::Malformed(_))));

    let tampered = String::from_utf8(raw).unwrap().replace("ssh\n", "ssh!\n").into_bytes();
    assert!(matches!(verify_object(ObjectKind::Commit, &tampered, &keys, NOW), Err(Failure::BadSignature { .. })));
}

#[test]
fn ssh_validity_and_namespaces_options_are_enforced() {
    let key = ssh_key();
    let public = key.public_key().to_openssh().unwrap();
    let raw = signed_commit("x\n", |p| ssh_sign(&key, "git", p));
    let expired = ring("Secret ns/s", "a", &format!("ops@example.com valid-before=\"20200101\" {public}"));
    let err = verify_object(ObjectKind::Commit, &raw, &expired, NOW).unwrap_err();
    assert!(matches!(err, Failure::KeyNotValid { ref why, .. } if why.contains("2020-01-01T00:00:00Z")), "{err}");
    let future = ring("Secret ns/s", "a", &format!("ops@example.com valid-after=\"209901011200Z\" {public}"));
    assert!(matches!(verify_object(ObjectKind::Commit, &raw, &future, NOW), Err(Failure::KeyNotValid { .. })));
    let files_only = ring("Secret ns/s", "a", &format!("ops@example.com namespaces=\"file,email\" {public}"));
    assert!(matches!(verify_object(ObjectKind::Commit, &raw, &files_only, NOW), Err(Failure::KeyNotValid { .. })));
    let fine = ring(
        "Secret ns/s",
        "a",
        &format!("ops@example.com,dev@example.com namespaces=\"git\",valid-after=\"20200101\" {public}"),
    );
    assert_eq!(
        verify_object(ObjectKind::Commit, &raw, &fine, NOW).unwrap().identity,
        "ops@example.com,dev@example.com"
    );
    let plain = ring("Secret ns/s", "a", &public);
    assert!(verify_object(ObjectKind::Commit, &raw, &plain, NOW).is_ok());
}

#[test]
fn signed_tag_verifies_and_its_payload_ends_before_the_signature() {
    let key = ssh_key();
    let public = key.public_key().to_openssh().unwrap();
    let keys = ring("Secret ns/s", "a", &format!("rel@example.com {public}"));
    let payload = "object 1111111111111111111111111111111111111111\ntype commit\ntag v1.0.0\n\
tagger R <rel@example.com> 1700000000 +0000\n\nrelease 1.0.0\n";
    let raw = format!("{payload}{}", ssh_sign(&key, "git", payload.as_bytes()));
    let signed = split_signature(ObjectKind::Tag, raw.as_bytes()).unwrap();
    assert_eq!(signed.payload, payload.as_bytes());
    assert_eq!(verify_object(ObjectKind::Tag, raw.as_bytes(), &keys, NOW).unwrap().identity, "rel@example.com");
    assert_eq!(verify_object(ObjectKind::Tag, payload.as_bytes(), &keys, NOW), Err(Failure::Unsigned));
}

#[test]
fn modes_choose_what_to_check() {
    let tag = ResolvedThrough::AnnotatedTag { name: "v1".into(), oid: "t".into() };
    let light = ResolvedThrough::LightweightTag("v1".into());
    let branch = ResolvedThrough::NotATag;
    let checks = |mode, through: &ResolvedThrough, last: Option<&str>| plan(mode, through, "c2", last);
    assert_eq!(checks(Mode::Head, &branch, Some("c1")), Ok(Plan { tag: None, head: true, since: None }));
    assert_eq!(checks(Mode::Tag, &tag, None), Ok(Plan { tag: Some("t".into()), head: false, since: None }));
    assert_eq!(checks(Mode::TagAndHead, &tag, None), Ok(Plan { tag: Some("t".into()), head: true, since: None }));
    assert!(checks(Mode::Tag, &light, None).unwrap_err().contains("lightweight"));
    assert!(checks(Mode::TagAndHead, &branch, None).unwrap_err().contains("not a tag"));
    assert_eq!(
        checks(Mode::AllCommits, &branch, Some("c1")),
        Ok(Plan { tag: None, head: true, since: Some("c1".into()) })
    );
    // The first verification, or the same revision again: only the resolved commit.
    assert_eq!(checks(Mode::AllCommits, &branch, None), Ok(Plan { tag: None, head: true, since: None }));
    assert_eq!(checks(Mode::AllCommits, &tag, Some("C2")), Ok(Plan { tag: None, head: true, since: None }));
}

#[test]
fn ssh_times_read_as_utc() {
    assert_eq!(keys::parse_ssh_time("19700102"), Ok(86_400));
    assert_eq!(keys::parse_ssh_time("20000301123000Z").map(keys::utc), Ok("2000-03-01T12:30:00Z".into()));
    assert!(keys::parse_ssh_time("2020").is_err());
    assert!(keys::parse_ssh_time("20201301").is_err());
}
