//! Random secret values for rotation: a length and a character set, drawn from the OS RNG with
//! no modulo bias.
//!
//! A byte is mapped onto an alphabet of `n` characters only if it falls below the largest
//! multiple of `n` that fits in a byte; other bytes are thrown away and more are drawn. Every
//! character is then exactly as likely as every other (a plain `byte % n` would favour the
//! first `256 % n` characters: for the 62 alphanumerics, `A`–`H` would come up 5/4 as often).

use std::fmt;

use zeroize::Zeroizing;

/// The shortest value a generator makes.
pub const MIN_LENGTH: u32 = 1;
/// The longest value a generator makes.
pub const MAX_LENGTH: u32 = 1024;
/// The length when none is given (a UUID is always 36).
pub const DEFAULT_LENGTH: u32 = 32;

const DIGITS: &[u8] = b"0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Letters, digits and the ASCII punctuation that needs no quoting inside a double-quoted shell
/// word or a JSON string: no space, quotes, backslash, backtick or `$`.
const SYMBOLS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%&()*+,-./:;<=>?@[]^_{|}~";

/// The characters a generated value is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// Letters, digits and shell- and JSON-safe punctuation (`!#%&()*+,-./:;<=>?@[]^_{|}~`).
    Symbols,
    /// `A-Z`, `a-z`, `0-9`.
    Alphanumeric,
    /// `0-9`.
    Numbers,
    /// `0-9a-f`.
    Hex,
    /// `A-Z`, `a-z`, `0-9`, `-`, `_` (RFC 4648 §5, unpadded).
    Base64Url,
    /// A random (version 4) UUID, lower case, 36 characters.
    Uuid,
}

impl Charset {
    /// Every charset, in the order the API lists them.
    pub const ALL: &'static [Charset] = &[
        Self::Symbols,
        Self::Alphanumeric,
        Self::Numbers,
        Self::Hex,
        Self::Base64Url,
        Self::Uuid,
    ];

    /// The name the API and the CLI use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Symbols => "symbols",
            Self::Alphanumeric => "alphanumeric",
            Self::Numbers => "numbers",
            Self::Hex => "hex",
            Self::Base64Url => "base64url",
            Self::Uuid => "uuid",
        }
    }

    /// The charset a name names, exactly as [`Charset::as_str`] spells it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    fn alphabet(self) -> &'static [u8] {
        match self {
            Self::Symbols => SYMBOLS,
            Self::Alphanumeric => ALPHANUMERIC,
            Self::Numbers => DIGITS,
            Self::Hex | Self::Uuid => HEX,
            Self::Base64Url => BASE64URL,
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    /// The length is outside 1–1024, or not 36 for a UUID.
    #[error("length must be {MIN_LENGTH}-{MAX_LENGTH} (exactly 36 for uuid)")]
    Length,
    /// The OS RNG failed; nothing was generated.
    #[error("the system random number generator failed")]
    Rng,
}

/// What to generate: a checked length and a charset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generator {
    length: u32,
    charset: Charset,
}

impl Generator {
    /// A generator for `length` characters of `charset`; `None` is [`DEFAULT_LENGTH`] (36 for
    /// a UUID, the only length a UUID may have).
    pub fn new(length: Option<u32>, charset: Charset) -> Result<Self, GeneratorError> {
        let length = match (charset, length) {
            (Charset::Uuid, None | Some(36)) => 36,
            (Charset::Uuid, Some(_)) => return Err(GeneratorError::Length),
            (_, None) => DEFAULT_LENGTH,
            (_, Some(n)) if (MIN_LENGTH..=MAX_LENGTH).contains(&n) => n,
            (_, Some(_)) => return Err(GeneratorError::Length),
        };
        Ok(Self { length, charset })
    }

    /// The length of every value this generator makes.
    pub fn length(&self) -> u32 {
        self.length
    }

    /// The charset.
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// A fresh value from the OS RNG.
    pub fn generate(&self) -> Result<Zeroizing<String>, GeneratorError> {
        self.generate_from(&mut |buf: &mut [u8]| {
            getrandom::fill(buf).map_err(|_| GeneratorError::Rng)
        })
    }

    /// A value from `fill`, which fills a buffer with random bytes (the OS RNG, or a fixed
    /// stream in tests).
    fn generate_from(
        &self,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), GeneratorError>,
    ) -> Result<Zeroizing<String>, GeneratorError> {
        if self.charset == Charset::Uuid {
            let mut b = Zeroizing::new([0u8; 16]);
            fill(b.as_mut())?;
            b[6] = (b[6] & 0x0f) | 0x40; // version 4
            b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
            let hex = Zeroizing::new(hex::encode(b.as_ref()));
            let mut out = Zeroizing::new(String::with_capacity(36));
            for (i, range) in [0..8, 8..12, 12..16, 16..20, 20..32]
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    out.push('-');
                }
                out.push_str(&hex[range]);
            }
            return Ok(out);
        }
        let alphabet = self.charset.alphabet();
        let n = alphabet.len();
        // The largest multiple of n that fits in a byte; bytes at or above it are rejected.
        let limit = 256 - 256 % n;
        let want = self.length as usize;
        let mut out = Zeroizing::new(String::with_capacity(want));
        let mut buf = Zeroizing::new(vec![0u8; want.max(16)]);
        while out.len() < want {
            fill(buf.as_mut_slice())?;
            for &b in buf.iter() {
                if (b as usize) < limit && out.len() < want {
                    out.push(char::from(alphabet[b as usize % n]));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{BTreeMap, HashSet};

    use super::*;

    /// A byte stream that counts up from 0 and wraps: every byte value once per 256 bytes.
    fn counting() -> impl FnMut(&mut [u8]) -> Result<(), GeneratorError> {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf.iter_mut() {
                *b = next;
                next = next.wrapping_add(1);
            }
            Ok(())
        }
    }

    #[test]
    fn every_character_is_equally_likely_for_every_charset() {
        // Fed a stream that counts through every byte value, twice over, the mapping must hit
        // each character exactly 2 * floor(256 / n) times. That holds only because the bytes at
        // or above the largest multiple of n are skipped: keeping them would give the first
        // 256 % n characters extra hits.
        for &charset in Charset::ALL.iter().filter(|c| **c != Charset::Uuid) {
            let n = charset.alphabet().len();
            let per = 2 * (256 / n);
            let g = Generator::new(Some((per * n) as u32), charset).unwrap();
            let value = g.generate_from(&mut counting()).unwrap();
            let mut counts: BTreeMap<char, usize> = BTreeMap::new();
            for c in value.chars() {
                *counts.entry(c).or_default() += 1;
            }
            assert_eq!(counts.len(), n, "{charset}: every character appears");
            assert!(
                counts.values().all(|&k| k == per),
                "{charset}: each character {per} times, got {counts:?}"
            );
        }
    }

    #[test]
    fn a_plain_modulo_would_have_been_biased() {
        // The reason for the rejection above, shown on the 62 alphanumerics: 256 = 4 * 62 + 8.
        let mut hits = [0usize; 62];
        for b in 0..=255u8 {
            hits[b as usize % 62] += 1;
        }
        assert_eq!(
            hits[..8].iter().collect::<HashSet<_>>(),
            HashSet::from([&5])
        );
        assert_eq!(
            hits[8..].iter().collect::<HashSet<_>>(),
            HashSet::from([&4])
        );
        assert_eq!(256 - 256 % 62, 248, "so bytes 248..=255 are rejected");
    }

    #[test]
    fn values_have_the_asked_length_and_only_their_charsets_characters() {
        for &charset in Charset::ALL {
            let lengths: &[Option<u32>] = if charset == Charset::Uuid {
                &[None, Some(36)]
            } else {
                &[None, Some(1), Some(7), Some(1024)]
            };
            for &length in lengths {
                let g = Generator::new(length, charset).unwrap();
                let v = g.generate().unwrap();
                assert_eq!(v.len(), g.length() as usize, "{charset} {length:?}");
                let allowed: &[u8] = if charset == Charset::Uuid {
                    b"0123456789abcdef-"
                } else {
                    charset.alphabet()
                };
                assert!(v.bytes().all(|b| allowed.contains(&b)), "{charset}: {v:?}");
            }
        }
        assert_eq!(Generator::new(None, Charset::Symbols).unwrap().length(), 32);
    }

    #[test]
    fn symbols_need_no_quoting_in_a_shell_word_or_json() {
        for b in SYMBOLS {
            assert!(b.is_ascii_graphic(), "{}", *b as char);
            assert!(!b"\"'`\\$ ".contains(b), "{}", *b as char);
        }
        let unique: HashSet<_> = SYMBOLS.iter().collect();
        assert_eq!(unique.len(), SYMBOLS.len());
    }

    #[test]
    fn lengths_outside_the_bounds_are_refused() {
        for bad in [0, 1025, u32::MAX] {
            assert_eq!(
                Generator::new(Some(bad), Charset::Hex),
                Err(GeneratorError::Length)
            );
        }
        assert_eq!(
            Generator::new(Some(32), Charset::Uuid),
            Err(GeneratorError::Length)
        );
    }

    #[test]
    fn uuids_are_version_4_with_the_rfc_variant() {
        let g = Generator::new(None, Charset::Uuid).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let u = g.generate().unwrap();
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{u:?}");
            assert!("89ab".contains(&parts[3][..1]), "{u:?}");
            assert!(seen.insert(u.to_string()));
        }
    }

    #[test]
    fn charset_names_parse_back_exactly() {
        for &c in Charset::ALL {
            assert_eq!(Charset::parse(c.as_str()), Some(c));
        }
        assert_eq!(Charset::parse("Hex"), None);
        assert_eq!(Charset::parse("hex "), None);
    }

    #[test]
    fn a_failing_rng_generates_nothing() {
        let g = Generator::new(Some(8), Charset::Hex).unwrap();
        let mut broken = |_: &mut [u8]| Err(GeneratorError::Rng);
        assert_eq!(g.generate_from(&mut broken), Err(GeneratorError::Rng));
    }
}
