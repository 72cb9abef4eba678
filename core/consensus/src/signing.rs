//! Validators sign votes, proposals and their network identity with ed25519; the
//! verifier refuses anything signed for another chain.

use arc_malachitebft_app_channel::app::types::core::{SignedMessage, ValidatorProof, VoteExtensionScope};
use arc_malachitebft_app_channel::{Signer, Verifier};
use arc_malachitebft_signing::{Error, VerificationResult};
use arc_malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};
use async_trait::async_trait;

use crate::codec::{proposal_sign_bytes, vote_sign_bytes};
use crate::types::{Proposal, ValidatorAddress, Vote, ZgContext};

/// The bytes a vote extension's signature covers (extensions are unused, but the
/// engine may still ask; they are bound to the chain and the vote's scope).
fn extension_sign_bytes(chain_id: u64, scope: &VoteExtensionScope<ZgContext>) -> Vec<u8> {
    let mut w = zg_codec::Writer::with_capacity(96);
    w.bytes(b"zg-consensus/extension/v1")
        .u64(chain_id)
        .u64(scope.height.0)
        .u32(scope.round.as_u32().unwrap_or(u32::MAX))
        .bytes(scope.value_id.0.as_slice())
        .bytes(&scope.validator_address.0);
    w.into_bytes()
}

/// Checks the ed25519 signatures of chain `chain_id`'s consensus messages.
#[derive(Clone, Copy, Debug)]
pub struct ZgVerifier {
    chain_id: u64,
}

impl ZgVerifier {
    /// A verifier for chain `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self { chain_id }
    }
}

fn verdict(valid: bool) -> Result<VerificationResult, Error> {
    Ok(VerificationResult::from_bool(valid))
}

#[async_trait]
impl Verifier<ZgContext> for ZgVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        verdict(vote.chain_id == self.chain_id && key.verify(&vote_sign_bytes(vote), signature).is_ok())
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        verdict(
            proposal.chain_id == self.chain_id
                && key.verify(&proposal_sign_bytes(proposal), signature).is_ok(),
        )
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<ZgContext>,
        _extension: &(),
        signature: &Signature,
        key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        verdict(
            key.verify(&extension_sign_bytes(self.chain_id, scope), signature)
                .is_ok(),
        )
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<ZgContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return verdict(false);
        };
        let Ok(key) = PublicKey::from_bytes(key) else {
            return verdict(false);
        };
        verdict(key.verify(&proof.preimage(), &proof.signature).is_ok())
    }
}

/// A validator's consensus key: signs its votes, its proposals and the proof that
/// binds its network identity to it.
#[derive(Clone)]
pub struct ValidatorKey {
    key: PrivateKey,
    chain_id: u64,
}

impl std::fmt::Debug for ValidatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorKey")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl ValidatorKey {
    /// The key with ed25519 secret `secret`, for chain `chain_id`.
    pub fn from_secret(secret: [u8; 32], chain_id: u64) -> Self {
        Self {
            key: PrivateKey::from(secret),
            chain_id,
        }
    }

    /// Its public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Its validator address.
    pub fn address(&self) -> ValidatorAddress {
        ValidatorAddress::of(&self.public_key())
    }

    /// Signs `bytes` (a proposal's parts).
    pub fn sign(&self, bytes: &[u8]) -> Signature {
        self.key.sign(bytes)
    }
}

#[async_trait]
impl Signer<ZgContext> for ValidatorKey {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<ZgContext, Vote>, Error> {
        let signature = self.key.sign(&vote_sign_bytes(&vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(&self, proposal: Proposal) -> Result<SignedMessage<ZgContext, Proposal>, Error> {
        let signature = self.key.sign(&proposal_sign_bytes(&proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<ZgContext>,
        extension: (),
    ) -> Result<SignedMessage<ZgContext, ()>, Error> {
        let signature = self.key.sign(&extension_sign_bytes(self.chain_id, &scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<ZgContext>, Error> {
        let preimage = ValidatorProof::<ZgContext>::signing_bytes(&public_key, &peer_id);
        Ok(ValidatorProof::new(public_key, peer_id, self.key.sign(&preimage)))
    }
}
