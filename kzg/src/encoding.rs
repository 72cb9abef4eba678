//! Bytes to curve and field types and back, exactly as the specs encode
//! them: 32-byte big-endian field elements (never reduced), 48-byte
//! compressed G1 and 96-byte compressed G2 with the ZCash flag bits.

use ark_bls12_381::{Fr, G1Affine, G2Affine};
use ark_ff::{BigInteger, BigInteger256, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};

use rayon::prelude::*;

use crate::batch_affine::Affine;
use crate::blst_ops::{DecompressError, from_affine, g1_decompress, g1_uncompress, share_len};
use crate::subgroup;
use crate::{BYTES_PER_COMMITMENT, BYTES_PER_FIELD_ELEMENT, KzgError, Result};

/// A 32-byte big-endian integer's limbs, least significant first.
fn be_limbs(bytes: &[u8], what: &'static str) -> Result<BigInteger256> {
    if bytes.len() != BYTES_PER_FIELD_ELEMENT {
        return Err(KzgError::WrongLength {
            what,
            expected: BYTES_PER_FIELD_ELEMENT,
            got: bytes.len(),
        });
    }
    let mut limbs = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        limbs[3 - i] = u64::from_be_bytes(a);
    }
    Ok(BigInteger256::new(limbs))
}

/// Parses a canonical 32-byte big-endian field element.
pub(crate) fn fr_from_bytes(bytes: &[u8], what: &'static str, index: usize) -> Result<Fr> {
    Fr::from_bigint(be_limbs(bytes, what)?).ok_or(KzgError::NonCanonicalField { what, index })
}

/// Parses a canonical field element `x` as `x / R` (R is Montgomery's
/// constant): the limbs taken as they are, saving the multiplication that
/// converts them. Only for linear uses, whose result [`MONTGOMERY_R`] corrects.
pub(crate) fn fr_over_r_from_bytes(bytes: &[u8], what: &'static str, index: usize) -> Result<Fr> {
    let limbs = be_limbs(bytes, what)?;
    if limbs >= Fr::MODULUS {
        return Err(KzgError::NonCanonicalField { what, index });
    }
    Ok(Fr::new_unchecked(limbs))
}

/// Montgomery's `R` as a field element: `fr_over_r_from_bytes(x) * MONTGOMERY_R == x`.
pub(crate) const MONTGOMERY_R: Fr = Fr::new_unchecked(Fr::R2);

/// The 32-byte big-endian encoding of a field element.
pub(crate) fn fr_to_bytes(x: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

/// `sha256(data)` as a big-endian integer reduced mod r (the specs' hash_to_bls_field).
pub(crate) fn hash_to_fr(digest: &[u8; 32]) -> Fr {
    Fr::from_be_bytes_mod_order(digest)
}

/// Parses a compressed G1 point, checking it is on the curve and in the
/// prime-order subgroup; the point at infinity is valid.
pub(crate) fn g1_from_bytes(bytes: &[u8], what: &'static str, index: usize) -> Result<G1Affine> {
    g1_decompress(&g1_array(bytes, what)?).map_err(|e| invalid_point(e, what, index))
}

fn g1_array(bytes: &[u8], what: &'static str) -> Result<[u8; BYTES_PER_COMMITMENT]> {
    bytes.try_into().map_err(|_| KzgError::WrongLength {
        what,
        expected: BYTES_PER_COMMITMENT,
        got: bytes.len(),
    })
}

fn invalid_point(e: DecompressError, what: &'static str, index: usize) -> KzgError {
    KzgError::InvalidPoint {
        what,
        index,
        reason: match e {
            DecompressError::Encoding => "bad encoding or x not on the curve",
            DecompressError::NotInSubgroup => "not in the prime-order subgroup",
        },
    }
}

/// Parses many compressed G1 points as [`g1_from_bytes`] does, over rayon's
/// threads, each thread checking the subgroup of its share at once.
pub(crate) fn g1s_from_bytes<B: AsRef<[u8]> + Sync>(
    items: &[B],
    what: &'static str,
) -> Result<Vec<G1Affine>> {
    let chunk = share_len(items.len(), subgroup::MIN_POINTS);
    let parts: Vec<Vec<G1Affine>> = items
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, share)| {
            let first = c * chunk;
            let points: Vec<Affine> = share
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    g1_uncompress(&g1_array(b.as_ref(), what)?).map_err(|e| invalid_point(e, what, first + k))
                })
                .collect::<Result<_>>()?;
            match subgroup::in_g1(&points).iter().position(|ok| !ok) {
                Some(k) => Err(invalid_point(DecompressError::NotInSubgroup, what, first + k)),
                None => Ok(points.iter().map(from_affine).collect()),
            }
        })
        .collect::<Result<_>>()?;
    Ok(parts.concat())
}

/// The 48-byte compressed encoding of a G1 point.
pub(crate) fn g1_to_bytes(p: &G1Affine) -> [u8; 48] {
    let mut out = [0u8; 48];
    // Writing 48 bytes into a 48-byte buffer cannot fail.
    let _ = p.serialize_compressed(&mut out[..]);
    out
}

/// Parses a compressed G2 point with full validation.
pub(crate) fn g2_from_bytes(bytes: &[u8], index: usize) -> Result<G2Affine> {
    G2Affine::deserialize_with_mode(bytes, Compress::Yes, Validate::Yes).map_err(|_| KzgError::InvalidPoint {
        what: "setup G2 point",
        index,
        reason: "bad encoding, not on the curve or not in the subgroup",
    })
}
