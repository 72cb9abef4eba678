//! The trusted setup: the Ethereum mainnet ceremony output, embedded, or
//! any setup in the `trusted_setup.txt` format.

use std::path::Path;

use ark_bls12_381::Fr;
use ark_bls12_381::{Bls12_381, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, VariableBaseMSM};
use ark_ff::PrimeField;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use sha2::{Digest, Sha256};

use crate::encoding::{g1_from_bytes, g2_from_bytes};
use crate::{FIELD_ELEMENTS_PER_BLOB, KzgError, Result};

/// G2 points in the setup (monomial form, `[tau^0..=tau^64]`).
pub const NUM_G2_POINTS: usize = 65;
const G1_UNCOMPRESSED: usize = 96;
const G2_UNCOMPRESSED: usize = 192;

/// The mainnet setup as uncompressed points (no square roots to take on
/// load): 4096 G1 Lagrange, 65 G2 monomial, 4096 G1 monomial. Generated
/// from `tests/vectors/trusted_setup.txt` by `examples/embed_setup.rs`; a
/// test checks the two agree point for point.
static EMBEDDED: &[u8] = include_bytes!("trusted_setup.bin");
/// FK20's setup rows for the mainnet setup (128 rows of 64 uncompressed
/// points), from the same example; a test checks them against a fresh computation.
static EMBEDDED_FK20_ROWS: &[u8] = include_bytes!("fk20_rows.bin");

fn decode_g1(bytes: &[u8]) -> Vec<G1Affine> {
    bytes
        .chunks_exact(G1_UNCOMPRESSED)
        .map(|c| {
            G1Affine::deserialize_with_mode(c, Compress::No, Validate::No)
                .expect("embedded points decode (checked by tests)")
        })
        .collect()
}

/// The embedded FK20 rows of the mainnet setup.
pub(crate) fn ethereum_fk20_rows() -> Vec<Vec<G1Affine>> {
    decode_g1(EMBEDDED_FK20_ROWS)
        .chunks(crate::FIELD_ELEMENTS_PER_CELL)
        .map(<[G1Affine]>::to_vec)
        .collect()
}

/// Setup points, in the order the specs give them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedSetup {
    /// `[L_i(tau)]G1` over the 4096-th roots of unity, natural order.
    pub g1_lagrange: Vec<G1Affine>,
    /// `[tau^i]G1`, i < 4096.
    pub g1_monomial: Vec<G1Affine>,
    /// `[tau^i]G2`, i <= 64.
    pub g2_monomial: Vec<G2Affine>,
}

impl TrustedSetup {
    /// The Ethereum mainnet setup, from the copy embedded in the crate.
    pub fn ethereum() -> Self {
        let n1 = FIELD_ELEMENTS_PER_BLOB * G1_UNCOMPRESSED;
        let n2 = NUM_G2_POINTS * G2_UNCOMPRESSED;
        let g2_monomial = EMBEDDED[n1..n1 + n2]
            .chunks_exact(G2_UNCOMPRESSED)
            .map(|c| {
                G2Affine::deserialize_with_mode(c, Compress::No, Validate::No)
                    .expect("embedded setup points decode (checked by tests)")
            })
            .collect();
        Self {
            g1_lagrange: decode_g1(&EMBEDDED[..n1]),
            g2_monomial,
            g1_monomial: decode_g1(&EMBEDDED[n1 + n2..]),
        }
    }

    /// The uncompressed form embedded in the crate.
    pub fn to_embedded_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_uncompressed(&self.g1_lagrange, &mut out);
        write_uncompressed(&self.g2_monomial, &mut out);
        write_uncompressed(&self.g1_monomial, &mut out);
        out
    }

    /// FK20's setup rows for this setup in the embedded format (uncompressed, row by row).
    pub fn fk20_rows_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for row in crate::fk20::setup_rows(&self.g1_monomial, crate::FIELD_ELEMENTS_PER_CELL) {
            write_uncompressed(&row, &mut out);
        }
        out
    }

    /// Reads a setup file in the `trusted_setup.txt` format.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| KzgError::Setup(format!("cannot read {}: {e}", path.display())))?;
        Self::from_text(&text)
    }

    /// Parses the `trusted_setup.txt` format: `4096`, `65`, then 4096 G1
    /// Lagrange points, 65 G2 points and 4096 G1 monomial points in hex.
    /// Every point is checked (on the curve, in the subgroup), and the three
    /// sets are checked to describe the same secret.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut tokens = text.split_whitespace();
        let mut count = |what: &str, expected: usize| -> Result<()> {
            let got = tokens
                .next()
                .ok_or_else(|| KzgError::Setup(format!("missing the {what} count")))?;
            if got != expected.to_string() {
                return Err(KzgError::Setup(format!(
                    "{what} count is {got}, expected {expected}"
                )));
            }
            Ok(())
        };
        count("G1", FIELD_ELEMENTS_PER_BLOB)?;
        count("G2", NUM_G2_POINTS)?;
        let mut hex_point = |what: &str, len: usize, i: usize| -> Result<Vec<u8>> {
            let tok = tokens
                .next()
                .ok_or_else(|| KzgError::Setup(format!("file ends before {what} point {i}")))?;
            let tok = tok.strip_prefix("0x").unwrap_or(tok);
            decode_hex(tok)
                .filter(|b| b.len() == len)
                .ok_or_else(|| KzgError::Setup(format!("{what} point {i} is not {len} bytes of hex")))
        };
        let mut g1_lagrange = Vec::with_capacity(FIELD_ELEMENTS_PER_BLOB);
        for i in 0..FIELD_ELEMENTS_PER_BLOB {
            let bytes = hex_point("G1 Lagrange", 48, i)?;
            g1_lagrange.push(g1_from_bytes(&bytes, "setup G1 Lagrange point", i)?);
        }
        let mut g2_monomial = Vec::with_capacity(NUM_G2_POINTS);
        for i in 0..NUM_G2_POINTS {
            g2_monomial.push(g2_from_bytes(&hex_point("G2", 96, i)?, i)?);
        }
        let mut g1_monomial = Vec::with_capacity(FIELD_ELEMENTS_PER_BLOB);
        for i in 0..FIELD_ELEMENTS_PER_BLOB {
            let bytes = hex_point("G1 monomial", 48, i)?;
            g1_monomial.push(g1_from_bytes(&bytes, "setup G1 monomial point", i)?);
        }
        if tokens.next().is_some() {
            return Err(KzgError::Setup("trailing data after the last point".into()));
        }
        let setup = Self {
            g1_lagrange,
            g1_monomial,
            g2_monomial,
        };
        setup.check_consistency()?;
        Ok(setup)
    }

    /// Cheap checks that the three point sets describe one secret `tau`.
    fn check_consistency(&self) -> Result<()> {
        let g1 = G1Affine::generator();
        let g2 = G2Affine::generator();
        if self.g1_monomial[0] != g1 || self.g2_monomial[0] != g2 {
            return Err(KzgError::Setup(
                "monomial points do not start with the generators".into(),
            ));
        }
        // e([tau]G1, G2) == e(G1, [tau]G2): both monomial sets use the same tau.
        let lhs = Bls12_381::pairing(self.g1_monomial[1], g2);
        let rhs = Bls12_381::pairing(g1, self.g2_monomial[1]);
        if lhs != rhs {
            return Err(KzgError::Setup(
                "G1 and G2 monomial points use different secrets".into(),
            ));
        }
        // Commit to one pseudo-random polynomial both ways: from its
        // coefficients (monomial points) and from its evaluations over the
        // roots of unity (Lagrange points). They agree only if the Lagrange
        // points are the right basis in the right order (but for negligible chance).
        let n = self.g1_lagrange.len();
        let mut seed = Sha256::new();
        for p in self.g1_lagrange.iter().chain(&self.g1_monomial) {
            let mut b = Vec::with_capacity(48);
            p.serialize_compressed(&mut b)
                .expect("writing to a Vec cannot fail");
            seed.update(&b);
        }
        let seed = seed.finalize();
        let coeffs: Vec<Fr> = (0..n as u64)
            .map(|i| {
                let mut h = Sha256::new();
                h.update(seed);
                h.update(i.to_be_bytes());
                Fr::from_be_bytes_mod_order(&h.finalize())
            })
            .collect();
        let domain = Radix2EvaluationDomain::<Fr>::new(n)
            .ok_or_else(|| KzgError::Setup("setup size is not a power of two".into()))?;
        let evals = domain.fft(&coeffs);
        let via_monomial = G1Projective::msm_unchecked(&self.g1_monomial, &coeffs);
        let via_lagrange = G1Projective::msm_unchecked(&self.g1_lagrange, &evals);
        if via_monomial != via_lagrange {
            return Err(KzgError::Setup(
                "G1 Lagrange points are not the Lagrange basis of the monomial points".into(),
            ));
        }
        Ok(())
    }
}

/// Appends the uncompressed encoding of each point.
fn write_uncompressed<T: CanonicalSerialize>(points: &[T], out: &mut Vec<u8>) {
    for p in points {
        p.serialize_uncompressed(&mut *out)
            .expect("writing to a Vec cannot fail");
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
