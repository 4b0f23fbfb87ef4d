//! Semver ranges over tags as Argo CD reads them (Masterminds semver v3): a bare version is exact,
//! `x`, `X`, `*` or a missing part is a wildcard, `~` and `^` as in npm, `A - B` hyphen ranges,
//! comparators joined by spaces or commas must all hold, `||` separates alternatives, and a
//! pre-release only matches an alternative that names one.

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// A parsed range: it matches a version when any alternative does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    alternatives: Vec<Alternative>,
}

/// Comparators that must all hold.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Alternative {
    comparators: Vec<Comparator>,
    /// Some comparator names a pre-release, so pre-release versions are candidates.
    includes_prerelease: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Comparator {
    op: Op,
    /// The written version with wildcard parts as 0.
    version: Version,
    wild: Wild,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Exact,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

/// Which part of a comparator's version is the first wildcard (or missing): `*`, `1.x`, `1.2.x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wild {
    None,
    Major,
    Minor,
    Patch,
}

/// Operators, longest first so `>=` is not read as `>`.
const OPERATORS: [(&str, Op); 11] = [
    ("!=", Op::NotEqual),
    (">=", Op::GreaterEqual),
    ("=>", Op::GreaterEqual),
    ("<=", Op::LessEqual),
    ("=<", Op::LessEqual),
    ("~>", Op::Tilde),
    (">", Op::Greater),
    ("<", Op::Less),
    ("=", Op::Exact),
    ("~", Op::Tilde),
    ("^", Op::Caret),
];

impl Range {
    /// Parses a range; `None` when it is not valid range syntax.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let alternatives = text.split("||").map(parse_alternative).collect::<Option<Vec<_>>>()?;
        Some(Self { alternatives })
    }

    /// True when `version` satisfies the range.
    pub(crate) fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|alt| {
            (version.pre.is_empty() || alt.includes_prerelease) && alt.comparators.iter().all(|c| c.matches(version))
        })
    }
}

/// Parses a version the way Masterminds' `NewVersion` does for tags: an optional `v`, one to three
/// numeric parts (missing ones are 0), then an optional pre-release and build metadata.
pub(crate) fn parse_loose_version(text: &str) -> Option<Version> {
    let mut scanner = Scanner { rest: text };
    let written = scanner.version(false)?;
    if !scanner.rest.is_empty() {
        return None;
    }
    let number = |part: Option<&str>| part.map_or(Some(0), |p| p.parse::<u64>().ok());
    let mut version = Version::new(number(Some(written.major))?, number(written.minor)?, number(written.patch)?);
    version.pre = Prerelease::new(written.pre).ok()?;
    version.build = BuildMetadata::new(written.build).ok()?;
    Some(version)
}

/// Semver precedence: build metadata is ignored.
pub(crate) fn precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| a.pre.cmp(&b.pre))
}

fn parse_alternative(text: &str) -> Option<Alternative> {
    let mut scanner = Scanner { rest: text };
    let mut comparators = Vec::new();
    loop {
        let had_space = scanner.skip_space();
        if scanner.rest.is_empty() {
            break;
        }
        let mut after_comma = false;
        if !comparators.is_empty() {
            after_comma = scanner.eat(",");
            if after_comma {
                scanner.skip_space();
            } else if !had_space {
                return None;
            }
        }
        let op = scanner.operator();
        scanner.skip_space();
        let first = scanner.version(true)?;
        // `A - B`: whitespace on both sides of the hyphen, no operators. Masterminds rewrites it
        // together with the whitespace before it, so it must open the alternative or follow a comma.
        let saved = scanner.rest;
        if op.is_none() && scanner.skip_space() && scanner.eat("-") && scanner.skip_space() {
            if !(comparators.is_empty() || after_comma) {
                return None;
            }
            let second = scanner.version(true)?;
            comparators.push(first.comparator(Op::GreaterEqual)?);
            comparators.push(second.comparator(Op::LessEqual)?);
            continue;
        }
        scanner.rest = saved;
        comparators.push(first.comparator(op.unwrap_or(Op::Exact))?);
    }
    if comparators.is_empty() {
        return None;
    }
    let includes_prerelease = comparators.iter().any(|c| !c.version.pre.is_empty());
    Some(Alternative { comparators, includes_prerelease })
}

/// A version as written, before wildcards are resolved.
struct Written<'a> {
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    pre: &'a str,
    build: &'a str,
}

impl Written<'_> {
    fn comparator(&self, op: Op) -> Option<Comparator> {
        let is_wild = |part: Option<&str>| part.is_none_or(|p| matches!(p, "x" | "X" | "*"));
        let number = |part: Option<&str>| part.unwrap_or("0").parse::<u64>().ok();
        let (wild, version) = if is_wild(Some(self.major)) {
            (Wild::Major, Version::new(0, 0, 0))
        } else if is_wild(self.minor) {
            (Wild::Minor, Version::new(number(Some(self.major))?, 0, 0))
        } else if is_wild(self.patch) {
            (Wild::Patch, Version::new(number(Some(self.major))?, number(self.minor)?, 0))
        } else {
            let mut exact = Version::new(number(Some(self.major))?, number(self.minor)?, number(self.patch)?);
            exact.build = BuildMetadata::new(self.build).ok()?;
            (Wild::None, exact)
        };
        let version = Version { pre: Prerelease::new(self.pre).ok()?, ..version };
        Some(Comparator { op, version, wild })
    }
}

/// A cursor over range text.
struct Scanner<'a> {
    rest: &'a str,
}

impl<'a> Scanner<'a> {
    /// Skips whitespace; true when there was some.
    fn skip_space(&mut self) -> bool {
        let trimmed = self.rest.trim_start();
        let skipped = trimmed.len() < self.rest.len();
        self.rest = trimmed;
        skipped
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn operator(&mut self) -> Option<Op> {
        OPERATORS.iter().find(|(token, _)| self.rest.starts_with(token)).map(|(token, op)| {
            self.rest = &self.rest[token.len()..];
            *op
        })
    }

    /// `v?PART(.PART)?(.PART)?(-PRE)?(+BUILD)?`; a part is digits, or with `wild` one of `x X *`.
    fn version(&mut self, wild: bool) -> Option<Written<'a>> {
        self.eat("v");
        let major = self.part(wild)?;
        let mut minor = None;
        let mut patch = None;
        for slot in [&mut minor, &mut patch] {
            let saved = self.rest;
            if !self.eat(".") {
                break;
            }
            match self.part(wild) {
                Some(part) => *slot = Some(part),
                None => {
                    self.rest = saved;
                    break;
                }
            }
        }
        let pre = self.suffix('-');
        let build = self.suffix('+');
        Some(Written { major, minor, patch, pre, build })
    }

    fn part(&mut self, wild: bool) -> Option<&'a str> {
        let digits = self.rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(self.rest.len());
        let len = match digits {
            0 if wild && self.rest.starts_with(['x', 'X', '*']) => 1,
            0 => return None,
            n => n,
        };
        let (part, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(part)
    }

    /// After `marker`: dot-separated identifiers of ASCII letters, digits and hyphens.
    fn suffix(&mut self, marker: char) -> &'a str {
        let Some(after) = self.rest.strip_prefix(marker) else { return "" };
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.')).unwrap_or(after.len());
        let text = &after[..len];
        // Identifiers may not be empty; stop before a trailing or doubled dot.
        let valid = text.split('.').take_while(|id| !id.is_empty()).map(|id| id.len() + 1).sum::<usize>();
        let text = &text[..valid.saturating_sub(1).min(text.len())];
        if text.is_empty() {
            return "";
        }
        self.rest = &after[text.len()..];
        text
    }
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        let order = precedence(v, c);
        match self.op {
            Op::Exact if self.wild != Wild::None => self.tilde(v),
            Op::Exact => order == Ordering::Equal,
            Op::NotEqual => self.not_equal(v),
            Op::Greater if self.wild == Wild::None => order == Ordering::Greater,
            Op::Greater => match v.major.cmp(&c.major) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => match self.wild {
                    Wild::Minor => false,
                    Wild::Patch => v.minor > c.minor,
                    _ => order == Ordering::Greater,
                },
            },
            Op::Less => order == Ordering::Less,
            Op::GreaterEqual => order != Ordering::Less,
            Op::LessEqual if self.wild == Wild::None => order != Ordering::Greater,
            Op::LessEqual => {
                !(v.major > c.major || (v.major == c.major && v.minor > c.minor && self.wild != Wild::Minor))
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    /// `~1.2.3` is `>=1.2.3 <1.3.0`; `~1` and `~1.x` are `>=1 <2`; `~0.0.0` is anything.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if precedence(v, c) == Ordering::Less {
            return false;
        }
        let minor_wild = self.wild == Wild::Minor;
        if (c.major, c.minor, c.patch) == (0, 0, 0) && !minor_wild && self.wild != Wild::Patch {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || minor_wild)
    }

    /// `^1.2.3` is `>=1.2.3 <2.0.0`; below 1.0.0 the minor (then the patch) is what must match.
    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if precedence(v, c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.wild == Wild::Minor {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.wild == Wild::Patch {
            return v.minor == c.minor;
        }
        v.minor == 0 && v.patch == c.patch
    }

    /// `!=1.2.x` excludes the whole 1.2 line; `!=1.2.3` excludes one version.
    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.wild != Wild::None {
            if c.major != v.major {
                return true;
            }
            match self.wild {
                Wild::Minor => return false,
                _ if c.minor != v.minor => return true,
                Wild::Patch if !v.pre.is_empty() || !c.pre.is_empty() => return v.pre != c.pre,
                Wild::Patch => return false,
                _ if c.patch != v.patch => return true,
                _ => {}
            }
        }
        precedence(v, c) != Ordering::Equal
    }
}

#[cfg(test)]
mod tests;
