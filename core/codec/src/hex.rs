//! Byte strings (roots, ids, keys, proofs) as `0x` hex: one way to show them and one
//! way to parse them, with the length checked. With the `serde` feature they travel in
//! JSON as hex strings, so an API type holds bytes, not text to parse later.

use std::fmt;
use std::str::FromStr;

/// Why text is not `N` bytes of hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// A character that is not a hex digit, or an odd number of digits.
    #[error("{text:?} is not hex")]
    NotHex {
        /// The text, cut to 80 characters.
        text: String,
    },
    /// Hex of the wrong length.
    #[error("{text:?} has {got} bytes, expected {expected}")]
    WrongLength {
        /// The text, cut to 80 characters.
        text: String,
        /// Bytes it holds.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
}

/// `N` bytes shown as `0x`-prefixed lowercase hex and parsed from hex with or
/// without `0x`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HexBytes<const N: usize>(pub [u8; N]);

impl<const N: usize> fmt::Display for HexBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_0x(&self.0))
    }
}

impl<const N: usize> fmt::Debug for HexBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<const N: usize> FromStr for HexBytes<N> {
    type Err = HexError;

    fn from_str(s: &str) -> Result<Self, HexError> {
        let text = || s.chars().take(80).collect::<String>();
        let bytes =
            hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|_| HexError::NotHex { text: text() })?;
        let got = bytes.len();
        bytes.try_into().map(Self).map_err(|_| HexError::WrongLength {
            text: text(),
            got,
            expected: N,
        })
    }
}

impl<const N: usize> Default for HexBytes<N> {
    fn default() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> From<[u8; N]> for HexBytes<N> {
    fn from(b: [u8; N]) -> Self {
        Self(b)
    }
}

/// Bytes of any length shown as `0x`-prefixed lowercase hex and parsed from hex with
/// or without `0x`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct HexVec(pub Vec<u8>);

impl fmt::Display for HexVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_0x(&self.0))
    }
}

impl fmt::Debug for HexVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for HexVec {
    type Err = HexError;

    fn from_str(s: &str) -> Result<Self, HexError> {
        hex::decode(s.strip_prefix("0x").unwrap_or(s))
            .map(Self)
            .map_err(|_| HexError::NotHex {
                text: s.chars().take(80).collect(),
            })
    }
}

impl From<Vec<u8>> for HexVec {
    fn from(b: Vec<u8>) -> Self {
        Self(b)
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::{HexBytes, HexVec};
    use serde::de::{Deserializer, Error};
    use serde::{Deserialize, Serialize, Serializer};

    impl<const N: usize> Serialize for HexBytes<N> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self)
        }
    }

    impl<'de, const N: usize> Deserialize<'de> for HexBytes<N> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            String::deserialize(d)?.parse().map_err(D::Error::custom)
        }
    }

    impl Serialize for HexVec {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self)
        }
    }

    impl<'de> Deserialize<'de> for HexVec {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            String::deserialize(d)?.parse().map_err(D::Error::custom)
        }
    }
}

/// `bytes` as lowercase hex, without a prefix.
pub fn encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// `bytes` as `0x`-prefixed lowercase hex.
pub fn encode_0x(bytes: &[u8]) -> String {
    format!("0x{}", encode(bytes))
}

/// `s` (hex, `0x` optional) as exactly `N` bytes.
pub fn parse<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    s.parse::<HexBytes<N>>().map(|h| h.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_and_parses_with_and_without_the_prefix() {
        let h = HexBytes([0x00, 0xab, 0xff]);
        assert_eq!(h.to_string(), "0x00abff");
        assert_eq!("0x00abff".parse::<HexBytes<3>>().unwrap(), h);
        assert_eq!("00ABFF".parse::<HexBytes<3>>().unwrap(), h);
        assert_eq!(encode(&[1, 0xfe]), "01fe");
        assert_eq!(encode_0x(&[]), "0x");
        assert!(matches!(parse::<3>("0x00abf"), Err(HexError::NotHex { .. })));
        assert!(matches!(parse::<3>("0x00abzz"), Err(HexError::NotHex { .. })));
        assert!(matches!(
            parse::<2>("0x00abff"),
            Err(HexError::WrongLength {
                got: 3,
                expected: 2,
                ..
            })
        ));
        assert_eq!(parse::<2>("zz").unwrap_err().to_string(), "\"zz\" is not hex");
        assert_eq!("0x".parse::<HexVec>().unwrap(), HexVec(vec![]));
        assert_eq!("0A0b".parse::<HexVec>().unwrap().to_string(), "0x0a0b");
        assert!(matches!("0x0".parse::<HexVec>(), Err(HexError::NotHex { .. })));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn travels_in_json_as_hex_strings() {
        let h = HexBytes([1u8, 2]);
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"0x0102\"");
        assert_eq!(serde_json::from_str::<HexBytes<2>>("\"0102\"").unwrap(), h);
        let e = serde_json::from_str::<HexBytes<3>>("\"0x0102\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has 2 bytes, expected 3"), "{e}");
        assert!(serde_json::from_str::<HexBytes<2>>("258").is_err());
        let v = HexVec(vec![0xff; 3]);
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"0xffffff\"");
        assert_eq!(serde_json::from_str::<HexVec>("\"0xffffff\"").unwrap(), v);
    }
}
