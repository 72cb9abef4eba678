//! EIP-4844: blob commitments, evaluation proofs and their verification.

use ark_bls12_381::{Fr, G1Affine};
use ark_ec::CurveGroup;
use ark_ff::{Field, One, Zero, batch_inversion};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::blst_ops::{
    from_projective, g1_mul_vartime, g1_ops, jacobian_to_affine, msm, pairings_cancel, to_affine,
};
use crate::encoding::{
    MONTGOMERY_R, fr_from_bytes, fr_over_r_from_bytes, fr_to_bytes, g1_from_bytes, g1_to_bytes, hash_to_fr,
};
use crate::{
    BYTES_PER_BLOB, BYTES_PER_FIELD_ELEMENT, Bytes32, Bytes48, FIELD_ELEMENTS_PER_BLOB, KzgContext, KzgError,
    Result,
};

const FIAT_SHAMIR_PROTOCOL_DOMAIN: &[u8; 16] = b"FSBLOBVERIFY_V1_";
const RANDOM_CHALLENGE_KZG_BATCH_DOMAIN: &[u8; 16] = b"RCKZGBATCH___V1_";

fn check_blob_length(blob: &[u8]) -> Result<()> {
    if blob.len() != BYTES_PER_BLOB {
        return Err(KzgError::WrongLength {
            what: "blob",
            expected: BYTES_PER_BLOB,
            got: blob.len(),
        });
    }
    Ok(())
}

/// Parses a blob into its 4096 field elements (bit-reversed evaluations).
pub(crate) fn blob_to_polynomial(blob: &[u8]) -> Result<Vec<Fr>> {
    check_blob_length(blob)?;
    blob.par_chunks_exact(BYTES_PER_FIELD_ELEMENT)
        .enumerate()
        .map(|(i, c)| fr_from_bytes(c, "blob", i))
        .collect()
}

/// A blob's field elements each divided by Montgomery's R (checked
/// canonical, not converted): [`KzgContext::evaluate`] is linear, so its
/// result times [`MONTGOMERY_R`] is the blob's evaluation.
fn blob_over_r(blob: &[u8]) -> Result<Vec<Fr>> {
    check_blob_length(blob)?;
    blob.chunks_exact(BYTES_PER_FIELD_ELEMENT)
        .enumerate()
        .map(|(i, c)| fr_over_r_from_bytes(c, "blob", i))
        .collect()
}

/// The specs' `compute_challenge`: Fiat-Shamir over the blob and its commitment.
pub fn compute_challenge(blob: &[u8], commitment: &[u8]) -> Result<Bytes32> {
    check_blob_length(blob)?;
    if commitment.len() != 48 {
        return Err(KzgError::WrongLength {
            what: "commitment",
            expected: 48,
            got: commitment.len(),
        });
    }
    Ok(fr_to_bytes(&challenge(blob, commitment)))
}

fn challenge(blob: &[u8], commitment: &[u8]) -> Fr {
    let mut h = Sha256::new();
    h.update(FIAT_SHAMIR_PROTOCOL_DOMAIN);
    h.update((FIELD_ELEMENTS_PER_BLOB as u128).to_be_bytes());
    h.update(blob);
    h.update(commitment);
    hash_to_fr(&h.finalize().into())
}

impl KzgContext {
    /// `p(z)` for a polynomial in bit-reversed evaluation form, by the
    /// barycentric formula `(z^n - 1) / n * sum p_i w_i / (z - w_i)`, with the
    /// sum rewritten as `z * sum p_i / (z - w_i) - sum p_i` and kept as one
    /// running fraction: three multiplications per element and one
    /// inversion, where inverting every denominator costs five. Linear in
    /// `poly`. One thread: callers
    /// parallelize over blobs.
    pub(crate) fn evaluate(&self, poly: &[Fr], z: Fr) -> Fr {
        if let Some(i) = self.roots_brp.iter().position(|w| *w == z) {
            return poly[i];
        }
        let (mut numerator, mut denominator, mut total) = (Fr::zero(), Fr::one(), Fr::zero());
        for (p, w) in poly.iter().zip(&self.roots_brp) {
            let d = z - w;
            numerator = numerator * d + *p * denominator;
            denominator *= d;
            total += p;
        }
        // No root equals z, so the denominator is a product of non-zero factors.
        let sum = z * numerator * denominator.inverse().unwrap_or_default() - total;
        let n = Fr::from(FIELD_ELEMENTS_PER_BLOB as u64);
        sum * (z.pow([FIELD_ELEMENTS_PER_BLOB as u64]) - Fr::one()) * n.inverse().unwrap_or_default()
    }

    /// The commitment to a polynomial in bit-reversed evaluation form.
    fn commit(&self, poly: &[Fr]) -> G1Affine {
        self.commit_msm(poly).into_affine()
    }

    /// EIP-4844 `blob_to_kzg_commitment`.
    pub fn blob_to_kzg_commitment(&self, blob: &[u8]) -> Result<Bytes48> {
        let poly = blob_to_polynomial(blob)?;
        Ok(g1_to_bytes(&self.commit(&poly)))
    }

    /// [`KzgContext::blob_to_kzg_commitment`] of several blobs, in blob order:
    /// their table reads and additions batched together, faster per blob.
    pub fn blob_to_kzg_commitments<B: AsRef<[u8]> + Sync>(&self, blobs: &[B]) -> Result<Vec<Bytes48>> {
        let polys: Vec<Vec<Fr>> = blobs
            .iter()
            .map(|b| blob_to_polynomial(b.as_ref()))
            .collect::<Result<_>>()?;
        let polys: Vec<&[Fr]> = polys.iter().map(Vec::as_slice).collect();
        Ok(self.commit_msms(&polys).iter().map(g1_to_bytes).collect())
    }

    /// The quotient `(p(x) - y) / (x - z)` in evaluation form, and `y = p(z)`.
    fn proof_at(&self, poly: &[Fr], z: Fr) -> (G1Affine, Fr) {
        let y = self.evaluate(poly, z);
        let mut denominators: Vec<Fr> = self.roots_brp.iter().map(|w| *w - z).collect();
        let inside = denominators.iter().position(Zero::is_zero);
        batch_inversion(&mut denominators);
        let mut quotient: Vec<Fr> = poly
            .iter()
            .zip(&denominators)
            .map(|(p, d)| (*p - y) * d)
            .collect();
        if let Some(m) = inside {
            // z is the evaluation point m: that quotient value comes from the others.
            let mut terms: Vec<Fr> = self.roots_brp.iter().map(|w| z * (z - w)).collect();
            terms[m] = Fr::one();
            batch_inversion(&mut terms);
            quotient[m] = poly
                .iter()
                .zip(&self.roots_brp)
                .zip(&terms)
                .enumerate()
                .filter(|(i, _)| *i != m)
                .map(|(_, ((p, w), t))| (*p - y) * w * t)
                .sum();
        }
        (self.commit(&quotient), y)
    }

    /// EIP-4844 `compute_kzg_proof`: the proof and `y = p(z)`.
    pub fn compute_kzg_proof(&self, blob: &[u8], z: &[u8]) -> Result<(Bytes48, Bytes32)> {
        let poly = blob_to_polynomial(blob)?;
        let z = fr_from_bytes(z, "z", 0)?;
        let (proof, y) = self.proof_at(&poly, z);
        Ok((g1_to_bytes(&proof), fr_to_bytes(&y)))
    }

    /// EIP-4844 `compute_blob_kzg_proof`, at the Fiat-Shamir challenge.
    pub fn compute_blob_kzg_proof(&self, blob: &[u8], commitment: &[u8]) -> Result<Bytes48> {
        let poly = blob_to_polynomial(blob)?;
        // Only checked: the challenge hashes the commitment's bytes.
        let _point = g1_from_bytes(commitment, "commitment", 0)?;
        let z = challenge(blob, commitment);
        Ok(g1_to_bytes(&self.proof_at(&poly, z).0))
    }

    /// `e(C - [y]G1, G2) == e(proof, [tau - z]G2)`, rearranged so both G2
    /// points are fixed (their Miller-loop lines precomputed, no G2
    /// multiplication): `e(C - [y]G1 + [z]proof, -G2) * e(proof, [tau]G2) == 1`.
    /// One thread: a second worker's wake-up costs about what the split saves,
    /// and one joint Miller loop saves more.
    fn verify_at(&self, c: &G1Affine, z: Fr, y: Fr, p: &G1Affine) -> bool {
        let lhs = g1_ops::add(&g1_mul_vartime(p, &z), &g1_ops::neg(&self.g1_gen_comb.mul(&y)));
        let lhs = jacobian_to_affine(&g1_ops::add_affine(&lhs, &to_affine(c)));
        pairings_cancel(&lhs, &self.g2_neg_gen, p, &self.g2_tau)
    }

    /// EIP-4844 `verify_kzg_proof`: `Ok(false)` for a well-formed proof that does not verify.
    pub fn verify_kzg_proof(&self, commitment: &[u8], z: &[u8], y: &[u8], proof: &[u8]) -> Result<bool> {
        let z = fr_from_bytes(z, "z", 0)?;
        let y = fr_from_bytes(y, "y", 0)?;
        let c = g1_from_bytes(commitment, "commitment", 0)?;
        let p = g1_from_bytes(proof, "proof", 0)?;
        Ok(self.verify_at(&c, z, y, &p))
    }

    /// EIP-4844 `verify_blob_kzg_proof`.
    pub fn verify_blob_kzg_proof(&self, blob: &[u8], commitment: &[u8], proof: &[u8]) -> Result<bool> {
        // One thread throughout: the parallel version measured slower here
        // once waking the second worker counts.
        let raw = blob_over_r(blob)?;
        let c = g1_from_bytes(commitment, "commitment", 0)?;
        let p = g1_from_bytes(proof, "proof", 0)?;
        let z = challenge(blob, commitment);
        let y = self.evaluate(&raw, z) * MONTGOMERY_R;
        Ok(self.verify_at(&c, z, y, &p))
    }

    /// EIP-4844 `verify_blob_kzg_proof_batch`: one pairing check for many
    /// blobs, blobs parsed and evaluated in parallel.
    pub fn verify_blob_kzg_proof_batch<B, C, P>(
        &self,
        blobs: &[B],
        commitments: &[C],
        proofs: &[P],
    ) -> Result<bool>
    where
        B: AsRef<[u8]> + Sync,
        C: AsRef<[u8]> + Sync,
        P: AsRef<[u8]> + Sync,
    {
        if blobs.len() != commitments.len() || blobs.len() != proofs.len() {
            return Err(KzgError::LengthMismatch {
                what: "blobs, commitments and proofs",
                a: blobs.len(),
                b: commitments.len().max(proofs.len()),
            });
        }
        if blobs.is_empty() {
            return Ok(true);
        }
        let items: Vec<(G1Affine, Fr, Fr, G1Affine)> = (0..blobs.len())
            .into_par_iter()
            .map(|i| {
                let raw = blob_over_r(blobs[i].as_ref())?;
                let c = g1_from_bytes(commitments[i].as_ref(), "commitment", i)?;
                let p = g1_from_bytes(proofs[i].as_ref(), "proof", i)?;
                let z = challenge(blobs[i].as_ref(), commitments[i].as_ref());
                let y = self.evaluate(&raw, z) * MONTGOMERY_R;
                Ok((c, z, y, p))
            })
            .collect::<Result<_>>()?;
        if items.len() == 1 {
            let (c, z, y, p) = items[0];
            return Ok(self.verify_at(&c, z, y, &p));
        }
        // r from everything the prover chose; sum r^i (C_i - y_i G + z_i P_i) against sum r^i P_i.
        let mut h = Sha256::new();
        h.update(RANDOM_CHALLENGE_KZG_BATCH_DOMAIN);
        h.update((FIELD_ELEMENTS_PER_BLOB as u64).to_be_bytes());
        h.update((items.len() as u64).to_be_bytes());
        for (i, (_, z, y, _)) in items.iter().enumerate() {
            h.update(commitments[i].as_ref());
            h.update(fr_to_bytes(z));
            h.update(fr_to_bytes(y));
            h.update(proofs[i].as_ref());
        }
        let r = hash_to_fr(&h.finalize().into());
        let mut powers = Vec::with_capacity(items.len());
        let mut acc = Fr::one();
        for _ in 0..items.len() {
            powers.push(acc);
            acc *= r;
        }
        let proofs_g: Vec<G1Affine> = items.iter().map(|it| it.3).collect();
        let proof_lincomb = msm(&proofs_g, &powers);
        // sum r^i C_i + sum r^i z_i P_i as one MSM over both lists.
        let points: Vec<G1Affine> = items.iter().map(|it| it.0).chain(proofs_g).collect();
        let scalars: Vec<Fr> = powers
            .iter()
            .copied()
            .chain(items.iter().zip(&powers).map(|(it, p)| it.1 * p))
            .collect();
        let y_sum: Fr = items.iter().zip(&powers).map(|(it, p)| it.2 * p).sum();
        let rhs = msm(&points, &scalars) - from_projective(&self.g1_gen_comb.mul(&y_sum));
        Ok(pairings_cancel(
            &proof_lincomb.into_affine(),
            &self.g2_neg_tau,
            &rhs.into_affine(),
            &self.g2_gen,
        ))
    }
}
