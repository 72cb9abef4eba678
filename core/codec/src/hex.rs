//! Fixed-size byte strings (roots, ids, keys) as `0x` hex: one way to show them and
//! one way to parse them, with the length checked.

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

impl<const N: usize> From<[u8; N]> for HexBytes<N> {
    fn from(b: [u8; N]) -> Self {
        Self(b)
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
    }
}
