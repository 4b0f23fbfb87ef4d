//! Trusted keys, read from the values of Secrets and ConfigMaps: OpenPGP public key blocks
//! (armored, one or more per value) and SSH keys, as `allowed_signers` lines or plain public keys.

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

/// The data of one Secret or ConfigMap holding keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySource {
    /// `Secret namespace/name` or `ConfigMap namespace/name`, for messages and the status.
    pub origin: String,
    /// Each key of its data with its value.
    pub entries: Vec<(String, String)>,
}

/// One `allowed_signers` entry: who, which key, and its restrictions.
#[derive(Clone, Debug)]
pub(crate) struct AllowedSigner {
    pub(crate) principals: String,
    pub(crate) key: ssh_key::PublicKey,
    /// `namespaces="…"`: the signature namespaces this key may sign for (`git` must be one).
    pub(crate) namespaces: Option<Vec<String>>,
    /// `valid-after` and `valid-before`, seconds since the epoch (UTC).
    pub(crate) valid_after: Option<u64>,
    pub(crate) valid_before: Option<u64>,
    pub(crate) origin: String,
}

/// The keys signatures are checked against.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    pub(crate) openpgp: Vec<(SignedPublicKey, String)>,
    pub(crate) ssh: Vec<AllowedSigner>,
    /// Values that could not be read as keys (`origin key: why`); they trust nothing.
    pub problems: Vec<String>,
}

impl Keyring {
    /// Reads every value of every source. A value that is neither an OpenPGP key block nor SSH
    /// keys is recorded in `problems` and trusts nothing; an OpenPGP key whose self-signatures do
    /// not verify is refused the same way.
    pub fn from_sources(sources: &[KeySource]) -> Self {
        let mut ring = Keyring::default();
        for source in sources {
            for (name, value) in &source.entries {
                let at = format!("{} key {name}", source.origin);
                if value.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                    ring.add_openpgp(&at, &source.origin, value);
                } else {
                    ring.add_ssh(&at, &source.origin, value);
                }
            }
        }
        ring
    }

    /// Whether no key at all was read.
    pub fn is_empty(&self) -> bool {
        self.openpgp.is_empty() && self.ssh.is_empty()
    }

    /// The fingerprints of every trusted key, sorted: what the trust depends on.
    pub fn fingerprints(&self) -> Vec<String> {
        let mut all: Vec<String> = self.openpgp.iter().map(|(key, _)| pgp_fingerprint(key)).collect();
        all.extend(self.ssh.iter().map(|s| format!("{} {}", s.principals, ssh_fingerprint(s.key.key_data()))));
        all.sort();
        all.dedup();
        all
    }

    fn add_openpgp(&mut self, at: &str, origin: &str, text: &str) {
        const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
        for (index, _) in text.match_indices(BEGIN) {
            let block = &text[index..];
            let end = block[BEGIN.len()..].find(BEGIN).map_or(block.len(), |e| e + BEGIN.len());
            self.add_openpgp_block(at, origin, &block[..end]);
        }
    }

    fn add_openpgp_block(&mut self, at: &str, origin: &str, armored: &str) {
        let keys = match SignedPublicKey::from_armor_many(std::io::Cursor::new(armored.as_bytes())) {
            Ok((keys, _headers)) => keys,
            Err(err) => return self.problems.push(format!("{at}: not an OpenPGP key block: {err}")),
        };
        for key in keys {
            match key {
                Ok(key) => match key.verify_bindings() {
                    Ok(()) => self.openpgp.push((key, origin.to_string())),
                    Err(err) => self.problems.push(format!("{at}: key {} refused: {err}", pgp_fingerprint(&key))),
                },
                Err(err) => self.problems.push(format!("{at}: unreadable OpenPGP key: {err}")),
            }
        }
    }

    fn add_ssh(&mut self, at: &str, origin: &str, text: &str) {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_allowed_signer(line, origin) {
                Ok(signer) => self.ssh.push(signer),
                Err(why) => self.problems.push(format!("{at} line {}: {why}", number + 1)),
            }
        }
    }
}

/// The upper-case hex fingerprint of an OpenPGP primary key.
pub(crate) fn pgp_fingerprint(key: &SignedPublicKey) -> String {
    format!("{:X}", key.fingerprint())
}

/// `SHA256:…` of an SSH key, as `ssh-keygen -l` prints it.
pub(crate) fn ssh_fingerprint(key: &ssh_key::public::KeyData) -> String {
    key.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

fn is_key_type(token: &str) -> bool {
    token.starts_with("ssh-") || token.starts_with("ecdsa-sha2-") || token.starts_with("sk-")
}

/// One line of an `allowed_signers` file (`principals [options] keytype base64 [comment]`) or a
/// plain public key line (`keytype base64 comment`, the comment taken as the principal).
fn parse_allowed_signer(line: &str, origin: &str) -> Result<AllowedSigner, String> {
    let tokens = tokens(line);
    let (principals, rest) = match tokens.first() {
        Some(first) if is_key_type(first) => (None, &tokens[..]),
        Some(first) => (Some(first.clone()), &tokens[1..]),
        None => return Err("empty line".into()),
    };
    let (options, rest) = match rest.first() {
        Some(token) if !is_key_type(token) => (Some(token.as_str()), &rest[1..]),
        _ => (None, rest),
    };
    let key_text = rest.join(" ");
    let key = ssh_key::PublicKey::from_openssh(&key_text).map_err(|e| format!("not an SSH public key: {e}"))?;
    let principals = principals.unwrap_or_else(|| {
        let comment = key.comment().trim();
        if comment.is_empty() { "*".into() } else { comment.to_string() }
    });
    let mut signer = AllowedSigner {
        principals,
        key,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        origin: origin.to_string(),
    };
    for option in options.map(split_options).unwrap_or_default() {
        let (name, value) = option.split_once('=').unwrap_or((option.as_str(), ""));
        let value = value.trim_matches('"');
        match name.to_ascii_lowercase().as_str() {
            "namespaces" => signer.namespaces = Some(value.split(',').map(|n| n.trim().to_string()).collect()),
            "valid-after" => signer.valid_after = Some(parse_ssh_time(value)?),
            "valid-before" => signer.valid_before = Some(parse_ssh_time(value)?),
            "cert-authority" => return Err("cert-authority entries are not supported".into()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(signer)
}

/// Whitespace-separated tokens; double quotes keep spaces inside a token.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Options are separated by commas outside double quotes.
fn split_options(options: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in options.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().filter(|o| !o.is_empty()).collect()
}

/// `YYYYMMDD[HHMM[SS]][Z]` as `ssh-keygen` reads validity times; lockstep reads them as UTC.
pub fn parse_ssh_time(text: &str) -> Result<u64, String> {
    let digits = text.trim_end_matches(['Z', 'z']);
    let bad = || format!("time {text:?} is not YYYYMMDD[HHMM[SS]]");
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let part = |from: usize, to: usize| digits.get(from..to).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let (year, month, day) = (part(0, 4) as i64, part(4, 6), part(6, 8));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    let seconds = part(8, 10) * 3600 + part(10, 12) * 60 + part(12, 14);
    u64::try_from(days).map(|d| d * 86_400 + seconds).map_err(|_| bad())
}

/// A time as `2026-12-06T05:00:00Z`.
pub fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
