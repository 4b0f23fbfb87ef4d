//! The mutations: byte-level changes plus tokens that YAML, JSON and version ranges care about.

/// xorshift64*: small, fast, and the same sequence for the same seed.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (zero is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n.max(1)).unwrap_or(u64::MAX)).unwrap_or(0)
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Tokens that change how YAML, JSON or a version range parses.
const TOKENS: &[&[u8]] = &[
    b"---\n",
    b"...\n",
    b"- ",
    b": ",
    b"? ",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!binary ",
    b"!!map ",
    b"|\n",
    b">-\n",
    b"\t",
    b"\"",
    b"'",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"null",
    b"true",
    b"~",
    b"0x",
    b"1e999",
    b"-0",
    b"99999999999999999999",
    b"\\u0000",
    b"\xff\xfe",
    b"#",
    b"%YAML 1.1\n",
    b"||",
    b">=",
    b"^",
    b"*",
    b"x",
    b"v",
    b"-rc.1",
    b"+build",
    b"refs/heads/",
    b"refs/tags/",
];

/// One input: a seed from `pool` with one to eight mutations applied.
pub fn mutate(rng: &mut Rng, pool: &[&[u8]]) -> Vec<u8> {
    let mut data = pool[rng.below(pool.len())].to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, u8::try_from(rng.below(256)).unwrap_or(0)),
            2 if !data.is_empty() => {
                let len = rng.below(16.min(data.len() - at.min(data.len())) + 1);
                data.drain(at.min(data.len())..(at + len).min(data.len()));
            }
            3 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + rng.below(64) + 1).min(data.len());
                let piece = data[start..end].to_vec();
                data.splice(at..at, piece.iter().copied().cycle().take(piece.len() * (1 + rng.below(4))));
            }
            4 => {
                let other = pool[rng.below(pool.len())];
                let start = rng.below(other.len() + 1);
                let end = (start + rng.below(128)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
            5 => data.truncate(at),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_the_input_and_stay_in_bounds() {
        let mut rng = Rng::new(1);
        let pool: Vec<&[u8]> = vec![b"", b"a", b"kind: ConfigMap\n"];
        let changed = (0..1000).filter(|_| !pool.contains(&mutate(&mut rng, &pool).as_slice())).count();
        assert!(changed > 500, "only {changed} of 1000 inputs differ from a seed");
    }
}
