//! The signature and the signed bytes of a raw git commit or tag, as git itself splits them.

/// Which kind of git object the bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A commit: the signature is the `gpgsig` header.
    Commit,
    /// An annotated tag: the signature is appended to the message.
    Tag,
}

/// How an object was signed, from its armor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureFormat {
    /// `gpg.format=openpgp` (the default): `-----BEGIN PGP SIGNATURE-----`.
    OpenPgp,
    /// `gpg.format=ssh`: `-----BEGIN SSH SIGNATURE-----` (SSHSIG).
    Ssh,
    /// `gpg.format=x509` (gpgsm): not verified by lockstep.
    X509,
}

impl std::fmt::Display for SignatureFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OpenPgp => "OpenPGP",
            Self::Ssh => "SSH",
            Self::X509 => "X.509",
        })
    }
}

/// A signature and the bytes it signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedObject {
    /// The armored signature.
    pub signature: String,
    /// What was signed: the object without its signature.
    pub payload: Vec<u8>,
    /// The signature's format.
    pub format: SignatureFormat,
}

const ARMORS: [(&str, SignatureFormat); 3] = [
    ("-----BEGIN PGP SIGNATURE-----", SignatureFormat::OpenPgp),
    ("-----BEGIN SSH SIGNATURE-----", SignatureFormat::Ssh),
    ("-----BEGIN SIGNED MESSAGE-----", SignatureFormat::X509),
];

fn format_of(signature: &str) -> Option<SignatureFormat> {
    ARMORS.iter().find(|(armor, _)| signature.starts_with(armor)).map(|(_, format)| *format)
}

/// Splits a raw object into its signature and payload; `None` when it carries no signature.
pub fn split_signature(kind: ObjectKind, raw: &[u8]) -> Option<SignedObject> {
    match kind {
        ObjectKind::Commit => split_commit(raw),
        ObjectKind::Tag => split_tag(raw),
    }
}

/// A commit's signature is its `gpgsig` header (continuation lines start with a space); the payload
/// is the commit without that header (and without `gpgsig-sha256`), as `git verify-commit` checks.
fn split_commit(raw: &[u8]) -> Option<SignedObject> {
    let header_end = find(raw, b"\n\n").map_or(raw.len(), |at| at + 1);
    let mut payload = Vec::with_capacity(raw.len());
    let mut signature: Option<String> = None;
    let mut continuing = Continuation::Payload;
    let mut offset = 0;
    for line in raw[..header_end].split_inclusive(|b| *b == b'\n') {
        offset += line.len();
        if line.first() == Some(&b' ') && continuing != Continuation::Payload {
            if let (Continuation::Signature, Some(text)) = (continuing, signature.as_mut()) {
                text.push_str(&String::from_utf8_lossy(&line[1..]));
            }
            continue;
        }
        continuing = Continuation::Payload;
        if let Some(value) = line.strip_prefix(b"gpgsig ") {
            continuing = Continuation::Signature;
            signature = Some(String::from_utf8_lossy(value).into_owned());
        } else if line.starts_with(b"gpgsig-sha256 ") {
            continuing = Continuation::Dropped;
        } else {
            payload.extend_from_slice(line);
        }
    }
    payload.extend_from_slice(&raw[offset..]);
    let signature = signature?;
    let format = format_of(&signature)?;
    Some(SignedObject { signature, payload, format })
}

/// A tag's signature starts at the first line of its message that opens an armor; everything
/// before it is the payload.
fn split_tag(raw: &[u8]) -> Option<SignedObject> {
    let body_start = find(raw, b"\n\n").map(|at| at + 2)?;
    let mut at = body_start;
    while at < raw.len() {
        let rest = &raw[at..];
        if ARMORS.iter().any(|(armor, _)| rest.starts_with(armor.as_bytes())) {
            let signature = String::from_utf8_lossy(rest).into_owned();
            let format = format_of(&signature)?;
            return Some(SignedObject { signature, payload: raw[..at].to_vec(), format });
        }
        at += find(rest, b"\n").map_or(rest.len(), |nl| nl + 1);
    }
    None
}

/// What a header continuation line (one starting with a space) belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Continuation {
    Payload,
    Signature,
    Dropped,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
