//! 0G DA's signatures: BLS on BN254 as 0G's DA nodes sign and its DAEntrance checks
//! (facts from `0G-DA-WIRE.md` §2.3–2.4; no code of 0G's). A signer holds a scalar
//! `sk`, publishes `sk·G1` and `sk·G2`, and signs a 32-byte digest `d` as
//! `σ = sk·H(d)`, where `H` is try-and-increment onto G1 (x = d mod p, y = (x³ + 3)^((p+1)/4),
//! x + 1 until y² = x³ + 3). A signature verifies when `e(σ, G2) = e(H(d), pk)`; sums of
//! signatures verify against sums of keys.

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use zg_merkle::keccak_tree::keccak256;

/// The domain of a signer's registration message.
pub const REGISTRATION_DOMAIN: &[u8] = b"0G_BN254_Pubkey_Registration";

/// A 32-byte big-endian word of a base-field element.
pub fn fq_word(x: &Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

fn u256(n: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[24..].copy_from_slice(&n.to_be_bytes());
    out
}

/// What a DA node signs for a blob: keccak256(root ‖ epoch ‖ quorum ‖ C.x ‖ C.y), every
/// number a 32-byte big-endian word (Solidity's `abi.encodePacked` of those types).
pub fn blob_digest(storage_root: &[u8; 32], epoch: u64, quorum_id: u64, commitment: &G1Affine) -> [u8; 32] {
    let (x, y) = commitment.xy().unwrap_or_default();
    let mut message = Vec::with_capacity(160);
    message.extend_from_slice(storage_root);
    message.extend_from_slice(&u256(epoch));
    message.extend_from_slice(&u256(quorum_id));
    message.extend_from_slice(&fq_word(&x));
    message.extend_from_slice(&fq_word(&y));
    keccak256(&message)
}

/// What a signer signs to register: keccak256(signer ‖ chain id as a word ‖ the domain).
pub fn registration_digest(signer: &[u8; 20], chain_id: u64) -> [u8; 32] {
    let mut message = Vec::with_capacity(20 + 32 + REGISTRATION_DOMAIN.len());
    message.extend_from_slice(signer);
    message.extend_from_slice(&u256(chain_id));
    message.extend_from_slice(REGISTRATION_DOMAIN);
    keccak256(&message)
}

/// What a signer signs to join epoch `epoch`: keccak256(signer ‖ epoch as 8 big-endian
/// bytes ‖ chain id as a word).
pub fn epoch_registration_digest(signer: &[u8; 20], epoch: u64, chain_id: u64) -> [u8; 32] {
    let mut message = Vec::with_capacity(20 + 8 + 32);
    message.extend_from_slice(signer);
    message.extend_from_slice(&epoch.to_be_bytes());
    message.extend_from_slice(&u256(chain_id));
    keccak256(&message)
}

/// 0G's hash onto G1: try-and-increment from the digest read as a big-endian integer.
pub fn hash_to_g1(digest: &[u8; 32]) -> G1Affine {
    let mut x = Fq::from_be_bytes_mod_order(digest);
    let three = Fq::from(3u64);
    // (p + 1) / 4: p ≡ 3 (mod 4), so a square's root is its (p+1)/4-th power.
    let exponent = {
        let mut e = Fq::MODULUS;
        e.add_with_carry(&ark_ff::BigInt::from(1u64));
        e.div2();
        e.div2();
        e
    };
    loop {
        let y2 = x * x * x + three;
        let y = y2.pow(exponent);
        if y * y == y2 {
            return G1Affine::new_unchecked(x, y);
        }
        x += Fq::ONE;
    }
}

/// The G1 point zg's DA signers put where 0G's AMT erasure commitment goes (0G's AMT
/// needs setup files that are no public package): the hash onto G1 of keccak256 of a
/// domain and zg's submission id, which commits to every blob's KZG commitment. Any
/// holder of the submission's header recomputes it.
pub fn erasure_commitment(submission_id: &[u8; 32]) -> G1Affine {
    let mut message = b"zg-da/erasure-commitment".to_vec();
    message.extend_from_slice(submission_id);
    hash_to_g1(&keccak256(&message))
}

/// A signer's key.
#[derive(Clone)]
pub struct SecretKey(Fr);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A key from 32 bytes (reduced modulo the group order; zero is refused).
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let sk = Fr::from_be_bytes_mod_order(bytes);
        (sk != Fr::from(0u64)).then_some(Self(sk))
    }

    /// `sk·G1`.
    pub fn public_g1(&self) -> G1Affine {
        (G1Projective::generator() * self.0).into_affine()
    }

    /// `sk·G2`.
    pub fn public_g2(&self) -> G2Affine {
        (G2Projective::generator() * self.0).into_affine()
    }

    /// `sk·H(digest)`.
    pub fn sign(&self, digest: &[u8; 32]) -> G1Affine {
        (hash_to_g1(digest) * self.0).into_affine()
    }
}

/// Whether `signature` is `digest` signed by the key whose G2 half is `public_g2`.
pub fn verify(public_g2: &G2Affine, digest: &[u8; 32], signature: &G1Affine) -> bool {
    if !signature.is_on_curve()
        || !public_g2.is_on_curve()
        || !public_g2.is_in_correct_subgroup_assuming_on_curve()
    {
        return false;
    }
    Bn254::pairing(*signature, G2Affine::generator()) == Bn254::pairing(hash_to_g1(digest), *public_g2)
}

/// The sum of signatures (one aggregate for many signers of the same digest).
pub fn aggregate_signatures(signatures: &[G1Affine]) -> G1Affine {
    signatures
        .iter()
        .map(|s| s.into_group())
        .sum::<G1Projective>()
        .into_affine()
}

/// The sum of G2 keys.
pub fn aggregate_keys(keys: &[G2Affine]) -> G2Affine {
    keys.iter()
        .map(|k| k.into_group())
        .sum::<G2Projective>()
        .into_affine()
}

/// A base-field element from a big-endian word, refused unless canonical (below p).
fn fq_from_word(word: &[u8; 32]) -> Option<Fq> {
    let x = Fq::from_be_bytes_mod_order(word);
    (fq_word(&x) == *word).then_some(x)
}

/// A G1 point from its two words (Solidity's `G1Point`): canonical coordinates on the
/// curve, or (0, 0) for the identity (G1 has cofactor 1: on the curve is in the group).
pub fn g1_from_words(x: &[u8; 32], y: &[u8; 32]) -> Option<G1Affine> {
    if x == &[0; 32] && y == &[0; 32] {
        return Some(G1Affine::identity());
    }
    let point = G1Affine::new_unchecked(fq_from_word(x)?, fq_from_word(y)?);
    point.is_on_curve().then_some(point)
}

/// A G1 point's two words ((0, 0) for the identity).
pub fn g1_words(point: &G1Affine) -> ([u8; 32], [u8; 32]) {
    match point.xy() {
        Some((x, y)) => (fq_word(&x), fq_word(&y)),
        None => ([0; 32], [0; 32]),
    }
}

/// A G2 point from its coordinates' halves `x = x0 + x1·u`, `y = y0 + y1·u`: canonical,
/// on the curve and in the prime-order subgroup, or all zero for the identity.
pub fn g2_from_words(x0: &[u8; 32], x1: &[u8; 32], y0: &[u8; 32], y1: &[u8; 32]) -> Option<G2Affine> {
    if [x0, x1, y0, y1].iter().all(|w| **w == [0; 32]) {
        return Some(G2Affine::identity());
    }
    let x = Fq2::new(fq_from_word(x0)?, fq_from_word(x1)?);
    let y = Fq2::new(fq_from_word(y0)?, fq_from_word(y1)?);
    let point = G2Affine::new_unchecked(x, y);
    (point.is_on_curve() && point.is_in_correct_subgroup_assuming_on_curve()).then_some(point)
}

/// A G2 point's halves `[x0, x1, y0, y1]` (all zero for the identity).
pub fn g2_words(point: &G2Affine) -> [[u8; 32]; 4] {
    match point.xy() {
        Some((x, y)) => [fq_word(&x.c0), fq_word(&x.c1), fq_word(&y.c0), fq_word(&y.c1)],
        None => [[0; 32]; 4],
    }
}

/// Whether a signer's two public keys share one secret: `e(pk1, G2) = e(G1, pk2)`.
pub fn keys_match(public_g1: &G1Affine, public_g2: &G2Affine) -> bool {
    !public_g1.is_zero()
        && Bn254::pairing(*public_g1, G2Affine::generator())
            == Bn254::pairing(G1Affine::generator(), *public_g2)
}

/// DAEntrance's check of a quorum certificate: `sigma` signs `digest` under the
/// aggregate keys `apk_g1` and `apk_g2`, and both halves are of one secret. One
/// pairing product with γ = keccak(σ ‖ apk1 ‖ apk2 ‖ H) mod r binds them:
/// `e(σ + γ·apk1, −G2) · e(H + γ·G1, apk2) = 1`.
pub fn verify_certificate(digest: &[u8; 32], apk_g1: &G1Affine, apk_g2: &G2Affine, sigma: &G1Affine) -> bool {
    if apk_g1.is_zero() || apk_g2.is_zero() {
        return false;
    }
    let h = hash_to_g1(digest);
    let mut words = Vec::with_capacity(10 * 32);
    for p in [sigma, apk_g1] {
        let (x, y) = g1_words(p);
        words.extend_from_slice(&x);
        words.extend_from_slice(&y);
    }
    for w in g2_words(apk_g2) {
        words.extend_from_slice(&w);
    }
    let (hx, hy) = g1_words(&h);
    words.extend_from_slice(&hx);
    words.extend_from_slice(&hy);
    let gamma = Fr::from_be_bytes_mod_order(&keccak256(&words));
    let left = (sigma.into_group() + *apk_g1 * gamma).into_affine();
    let right = (h.into_group() + G1Affine::generator() * gamma).into_affine();
    Bn254::multi_pairing([left, right], [-G2Affine::generator(), *apk_g2]).is_zero()
}
