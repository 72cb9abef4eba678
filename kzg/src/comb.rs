//! `s * G` for one fixed point by a byte-wise comb: no doublings.

use ark_bls12_381::{Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, PrimeField};

use crate::blst_ops::{g1_ops, to_affine};

/// Multiples of one fixed point for single multiplications: `d * 256^j * P`
/// for every byte `d` of every window `j` (32 x 255 affine points, 765 KiB),
/// so `s * P` is 32 mixed additions and no doublings (4-bit digits would
/// take 64).
#[derive(Clone, Debug)]
pub(crate) struct G1Comb {
    table: Vec<blst::blst_p1_affine>,
}

impl G1Comb {
    const WINDOWS: usize = 32;
    const DIGITS: usize = 255;

    pub(crate) fn new(p: &G1Affine) -> Self {
        let mut multiples = Vec::with_capacity(Self::WINDOWS * Self::DIGITS);
        let mut base = p.into_group();
        for _ in 0..Self::WINDOWS {
            let mut m = base;
            for _ in 0..Self::DIGITS {
                multiples.push(m);
                m += base;
            }
            base = m; // 256 * base
        }
        Self {
            table: G1Projective::normalize_batch(&multiples)
                .iter()
                .map(to_affine)
                .collect(),
        }
    }

    /// `s * P` in variable time (for verification: nothing secret).
    pub(crate) fn mul(&self, s: &Fr) -> blst::blst_p1 {
        let bytes = s.into_bigint().to_bytes_le();
        // blst's all-zero point has z = 0: infinity.
        let mut acc = blst::blst_p1::default();
        for (j, &d) in bytes.iter().enumerate().take(Self::WINDOWS) {
            let d = usize::from(d);
            if d != 0 {
                acc = g1_ops::add_affine(&acc, &self.table[j * Self::DIGITS + d - 1]);
            }
        }
        acc
    }
}
