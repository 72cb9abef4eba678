//! A trained model sealed for the one user who paid for it, in the formats 0G's
//! fine-tuning SDK opens (`zerog_py_sdk/fine_tuning/crypto/encryption.py`):
//!
//! - The model: AES-256-GCM under a fresh key, as `[tag signature: 65][iv: 12]` then
//!   chunks of at most 64 MiB, each `ciphertext ‖ tag(16)`, the IV incremented
//!   (big-endian) per chunk; the tag signature is the TEE signer's over
//!   keccak256(every tag in order), so the user knows which provider made the file.
//! - The key: ECIES to the user's secp256k1 public key as eciespy 0.4 writes it
//!   (`ephemeral public key, uncompressed: 65 ‖ nonce: 16 ‖ tag: 16 ‖ ciphertext`; the
//!   AES-256-GCM key is HKDF-SHA256 of `ephemeral point ‖ shared point`, both
//!   uncompressed, with no salt or info). It goes on chain with the settlement, so only
//!   the user's private key opens the model.
//!
//! The scheme is three primitives the workspace already builds (k256, hkdf, aes-gcm);
//! the tests hold it to eciespy and to the SDK's own decryption.

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use alloy_primitives::{Address, B256, Signature, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::Sha256;

/// Plaintext bytes per encrypted chunk (the SDK reads 64 MiB + 16 at a time).
pub const CHUNK: usize = 64 << 20;
/// Bytes of a GCM tag.
pub const TAG: usize = 16;
/// Bytes of the model's first IV.
pub const IV: usize = 12;
/// Bytes of the tag signature (r ‖ s ‖ v).
pub const SIGNATURE: usize = 65;
/// Bytes of an uncompressed secp256k1 point and of eciespy's nonce.
const POINT: usize = 65;
const ECIES_NONCE: usize = 16;
/// A sealed 32-byte key's length.
pub const SEALED_KEY: usize = POINT + ECIES_NONCE + TAG + 32;

/// Why a sealed key or model does not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Not the length of a sealed 32-byte key.
    #[error("a sealed key is {SEALED_KEY} bytes, not {0}")]
    SealedKeyLength(usize),
    /// The ephemeral public key is not on the curve.
    #[error("the sealed key's ephemeral point is not a secp256k1 point")]
    BadPoint,
    /// Another user's key, or altered bytes.
    #[error("the sealed key does not open with this private key (wrong user, or altered)")]
    WrongKey,
    /// Too short to hold a model.
    #[error("the model file is {0} bytes: too short for its signature, IV and one chunk")]
    Truncated(usize),
    /// A chunk's tag does not match.
    #[error("a model chunk failed authentication: the file is altered or the key is not its own")]
    Altered,
    /// The tag signature is malformed.
    #[error("the model's tag signature does not recover")]
    BadSignature,
    /// Signed by someone other than the provider's signer.
    #[error("the model was signed by {found}, not the provider's signer {expected}")]
    WrongSigner {
        /// The provider's signer on chain.
        expected: Address,
        /// Who signed the tags.
        found: Address,
    },
}

/// A fresh model key.
pub fn new_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// The 32-byte AES key for the ECIES exchange between `ephemeral` (its uncompressed
/// point) and `shared` (the uncompressed Diffie-Hellman point).
fn exchange_key(ephemeral: &[u8], shared: &[u8]) -> [u8; 32] {
    let mut master = Vec::with_capacity(2 * POINT);
    master.extend_from_slice(ephemeral);
    master.extend_from_slice(shared);
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, &master)
        .expand(&[], &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    key
}

/// The uncompressed point of `secret × public`.
fn shared_point(secret: &SecretKey, public: &PublicKey) -> Vec<u8> {
    let point = (public.to_projective() * *secret.to_nonzero_scalar()).to_affine();
    point.to_encoded_point(false).as_bytes().to_vec()
}

/// `key` sealed to `user` (ECIES, eciespy's format).
pub fn seal_key(user: &PublicKey, key: &[u8; 32]) -> Vec<u8> {
    let ephemeral = SecretKey::random(&mut k256::elliptic_curve::rand_core::OsRng);
    let ephemeral_point = ephemeral.public_key().to_encoded_point(false);
    let aes = exchange_key(ephemeral_point.as_bytes(), &shared_point(&ephemeral, user));
    let mut nonce = [0u8; ECIES_NONCE];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = AesGcm::<aes_gcm::aes::Aes256, U16>::new((&aes).into());
    let mut body = key.to_vec();
    let tag = cipher
        .encrypt_in_place_detached(Nonce::<U16>::from_slice(&nonce), &[], &mut body)
        .expect("AES-GCM seals 32 bytes");
    let mut sealed = Vec::with_capacity(SEALED_KEY);
    sealed.extend_from_slice(ephemeral_point.as_bytes());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&tag);
    sealed.extend_from_slice(&body);
    sealed
}

/// Opens a key sealed to `user`.
pub fn open_key(user: &SecretKey, sealed: &[u8]) -> Result<[u8; 32], SealError> {
    if sealed.len() != SEALED_KEY {
        return Err(SealError::SealedKeyLength(sealed.len()));
    }
    let (point, rest) = sealed.split_at(POINT);
    let (nonce, rest) = rest.split_at(ECIES_NONCE);
    let (tag, body) = rest.split_at(TAG);
    let ephemeral = PublicKey::from_sec1_bytes(point).map_err(|_| SealError::BadPoint)?;
    let aes = exchange_key(point, &shared_point(user, &ephemeral));
    let cipher = AesGcm::<aes_gcm::aes::Aes256, U16>::new((&aes).into());
    let mut key = body.to_vec();
    cipher
        .decrypt_in_place_detached(Nonce::<U16>::from_slice(nonce), &[], &mut key, tag.into())
        .map_err(|_| SealError::WrongKey)?;
    key.try_into().map_err(|_| SealError::WrongKey)
}

fn increment(iv: &mut [u8; IV]) {
    for byte in iv.iter_mut().rev() {
        *byte = byte.wrapping_add(1);
        if *byte != 0 {
            break;
        }
    }
}

/// `model` encrypted under `key` in the SDK's chunked format, its tags signed by the
/// provider's TEE `signer`.
pub fn encrypt_model(key: &[u8; 32], model: &[u8], signer: &PrivateKeySigner) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut iv = [0u8; IV];
    rand::rng().fill_bytes(&mut iv);
    let first_iv = iv;
    let mut body = Vec::with_capacity(model.len() + TAG * (model.len() / CHUNK + 1));
    let mut tags = Vec::new();
    // An empty model is one empty chunk, so that every file carries a tag.
    let chunks: Vec<&[u8]> = if model.is_empty() {
        vec![&[]]
    } else {
        model.chunks(CHUNK).collect()
    };
    for chunk in chunks {
        let sealed = cipher
            .encrypt(Nonce::from_slice(&iv), chunk)
            .expect("AES-GCM encrypts a 64 MiB chunk");
        tags.extend_from_slice(&sealed[sealed.len() - TAG..]);
        body.extend_from_slice(&sealed);
        increment(&mut iv);
    }
    let signature = signer
        .sign_hash_sync(&keccak256(&tags))
        .expect("a local key signs");
    let mut file = Vec::with_capacity(SIGNATURE + IV + body.len());
    file.extend_from_slice(&signature.as_bytes());
    file.extend_from_slice(&first_iv);
    file.extend_from_slice(&body);
    file
}

/// Decrypts a model file made by [`encrypt_model`] (or 0G's provider), checking every
/// chunk's tag and that `expected` signed them.
pub fn decrypt_model(key: &[u8; 32], file: &[u8], expected: Address) -> Result<Vec<u8>, SealError> {
    if file.len() < SIGNATURE + IV + TAG {
        return Err(SealError::Truncated(file.len()));
    }
    let (signature, rest) = file.split_at(SIGNATURE);
    let (iv, body) = rest.split_at(IV);
    let mut iv: [u8; IV] = iv.try_into().expect("12 bytes");
    let cipher = Aes256Gcm::new(key.into());
    let mut model = Vec::with_capacity(body.len());
    let mut tags = Vec::new();
    for chunk in body.chunks(CHUNK + TAG) {
        if chunk.len() <= TAG && !(chunk.len() == TAG && body.len() == TAG) {
            return Err(SealError::Truncated(file.len()));
        }
        tags.extend_from_slice(&chunk[chunk.len() - TAG..]);
        let plain = cipher
            .decrypt(Nonce::from_slice(&iv), chunk)
            .map_err(|_| SealError::Altered)?;
        model.extend_from_slice(&plain);
        increment(&mut iv);
    }
    let signature = Signature::from_raw(signature).map_err(|_| SealError::BadSignature)?;
    let found = signature
        .recover_address_from_prehash(&B256::from(keccak256(&tags)))
        .map_err(|_| SealError::BadSignature)?;
    if found != expected {
        return Err(SealError::WrongSigner { expected, found });
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> SecretKey {
        SecretKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_user() {
        let key = new_key();
        let sealed = seal_key(&user().public_key(), &key);
        assert_eq!(sealed.len(), SEALED_KEY);
        assert_eq!(open_key(&user(), &sealed), Ok(key));
        let other = SecretKey::from_slice(&[8u8; 32]).unwrap();
        assert_eq!(open_key(&other, &sealed), Err(SealError::WrongKey));
        let mut altered = sealed.clone();
        altered[POINT + 3] ^= 1;
        assert_eq!(open_key(&user(), &altered), Err(SealError::WrongKey));
        assert_eq!(
            open_key(&user(), &sealed[1..]),
            Err(SealError::SealedKeyLength(SEALED_KEY - 1))
        );
        let mut bad_point = sealed;
        bad_point[0] = 0x05;
        assert_eq!(open_key(&user(), &bad_point), Err(SealError::BadPoint));
    }

    #[test]
    fn a_model_round_trips_and_refuses_changes() {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(3)).unwrap();
        let key = new_key();
        for size in [0usize, 1, 1000] {
            let model: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let file = encrypt_model(&key, &model, &signer);
            assert_eq!(file.len(), SIGNATURE + IV + size + TAG);
            assert_eq!(decrypt_model(&key, &file, signer.address()).unwrap(), model);
            let mut altered = file.clone();
            *altered.last_mut().unwrap() ^= 1;
            assert_eq!(
                decrypt_model(&key, &altered, signer.address()),
                Err(SealError::Altered)
            );
            let stranger = Address::repeat_byte(9);
            assert_eq!(
                decrypt_model(&key, &file, stranger),
                Err(SealError::WrongSigner {
                    expected: stranger,
                    found: signer.address()
                })
            );
            assert_eq!(
                decrypt_model(&new_key(), &file, signer.address()),
                Err(SealError::Altered)
            );
        }
        assert_eq!(
            decrypt_model(&key, &[0u8; 80], signer.address()),
            Err(SealError::Truncated(80))
        );
    }

    /// Chunks past the first use the next IVs: a 64 MiB + 1 model is two chunks.
    #[test]
    fn models_past_one_chunk_use_the_next_iv() {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(3)).unwrap();
        let key = new_key();
        let model = vec![0x5a; CHUNK + 1];
        let file = encrypt_model(&key, &model, &signer);
        assert_eq!(file.len(), SIGNATURE + IV + CHUNK + 1 + 2 * TAG);
        assert_eq!(decrypt_model(&key, &file, signer.address()).unwrap(), model);
        let mut iv = [0xff; IV];
        increment(&mut iv);
        assert_eq!(iv, [0; IV]);
        let mut iv = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff];
        increment(&mut iv);
        assert_eq!(iv[10..], [1, 0]);
    }
}
