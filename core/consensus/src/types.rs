//! What Malachite's [`Context`] is made of on zg's chain: heights, validators and
//! their set, the value validators agree on (a block's hash), proposals, votes and
//! the parts a proposed block streams in.

use std::fmt;

use alloy_primitives::B256;
use arc_malachitebft_app_channel::app::types::core::{
    self as core, Context, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use arc_malachitebft_signing_ed25519::{Ed25519, PublicKey, Signature};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Most validators a set may hold (bounds every certificate a peer sends).
pub const MAX_VALIDATORS: usize = 1024;

/// A block height; the genesis block is height 0, consensus starts at 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Height for Height {
    const ZERO: Self = Self(0);
    const INITIAL: Self = Self(1);

    fn increment_by(&self, n: u64) -> Self {
        Self(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Self)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address: the first 20 bytes of SHA-256 of its ed25519 key, as
/// CometBFT derives it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValidatorAddress(pub [u8; 20]);

impl ValidatorAddress {
    /// The address of `key`.
    pub fn of(key: &PublicKey) -> Self {
        Self::of_key_bytes(key.as_bytes())
    }

    /// The first 20 bytes of SHA-256 of a key's encoding (a follower's address is of
    /// its network key).
    pub(crate) fn of_key_bytes(key: &[u8]) -> Self {
        let digest = Sha256::digest(key);
        let mut address = [0u8; 20];
        address.copy_from_slice(&digest[..20]);
        Self(address)
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&zg_codec::hex::encode_0x(&self.0))
    }
}

impl fmt::Debug for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::Address for ValidatorAddress {}

/// One validator: its key, the address derived from it, and its voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Derived from `public_key`.
    pub address: ValidatorAddress,
    /// Its ed25519 consensus key.
    pub public_key: PublicKey,
    /// Voting power (more than 2/3 of the total decides).
    pub voting_power: VotingPower,
}

impl Validator {
    /// A validator with `public_key` and `voting_power`.
    pub fn new(public_key: PublicKey, voting_power: VotingPower) -> Self {
        Self {
            address: ValidatorAddress::of(&public_key),
            public_key,
            voting_power,
        }
    }
}

impl core::Validator<ZgContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// Why validators do not make a set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validator.
    #[error("a validator set needs at least one validator")]
    Empty,
    /// Over [`MAX_VALIDATORS`].
    #[error("{0} validators, over the limit of {MAX_VALIDATORS}")]
    TooMany(usize),
    /// A key listed twice.
    #[error("validator {0} is listed twice")]
    Duplicate(ValidatorAddress),
    /// Zero voting power, or a total that overflows.
    #[error("validator {0} has zero voting power, or the total overflows")]
    BadPower(ValidatorAddress),
}

/// The validators of a chain, ordered by address (the proposer rotation's order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total: VotingPower,
}

impl ValidatorSet {
    /// A set of `validators`, each with positive power and a distinct key.
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if validators.len() > MAX_VALIDATORS {
            return Err(ValidatorSetError::TooMany(validators.len()));
        }
        validators.sort_by_key(|v| v.address);
        let mut total: VotingPower = 0;
        for (i, validator) in validators.iter().enumerate() {
            if i > 0 && validators[i - 1].address == validator.address {
                return Err(ValidatorSetError::Duplicate(validator.address));
            }
            total = match total.checked_add(validator.voting_power) {
                Some(total) if validator.voting_power > 0 => total,
                _ => return Err(ValidatorSetError::BadPower(validator.address)),
            };
        }
        Ok(Self { validators, total })
    }

    /// The validators, by address.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl core::ValidatorSet<ZgContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
            .map(|i| &self.validators[i])
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// What validators decide: the hash of a block. The block itself travels in
/// [`ProposalPart`]s and is re-executed by every validator before it votes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockId(pub B256);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::Value for BlockId {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        *self
    }
}

/// A proposer's signed claim: at this height and round, this block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The chain the proposal is for (part of what is signed).
    pub chain_id: u64,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The proposed block.
    pub value: BlockId,
    /// The round in which the proposer saw a polka for it, if any.
    pub pol_round: Round,
    /// Who proposes.
    pub proposer: ValidatorAddress,
}

impl core::Proposal<ZgContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &BlockId {
        &self.value
    }

    fn take_value(self) -> BlockId {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// A prevote or precommit for a block (or for nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// The chain the vote is for (part of what is signed).
    pub chain_id: u64,
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// Who votes.
    pub validator: ValidatorAddress,
    /// Vote extensions are not used; kept for the trait.
    pub extension: Option<SignedExtension<ZgContext>>,
}

impl core::Vote<ZgContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<ZgContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<ZgContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<ZgContext>) -> Self {
        Self {
            extension: Some(extension),
            ..self
        }
    }
}

/// One piece of a proposed block's stream: who proposes what where, the block's
/// bytes in chunks, and the proposer's signature over all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    /// First: height, round, the polka round and the proposer.
    Init {
        /// Height.
        height: Height,
        /// Round.
        round: Round,
        /// The proposal's polka round.
        pol_round: Round,
        /// Who proposes.
        proposer: ValidatorAddress,
    },
    /// A chunk of the proposed block's bytes (header and transactions, RLP).
    Data(Bytes),
    /// Last: the proposer's signature over the init part and every chunk.
    Fin(Signature),
}

impl core::ProposalPart<ZgContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, Self::Init { .. })
    }

    fn is_last(&self) -> bool {
        matches!(self, Self::Fin(_))
    }
}

/// zg's chain as Malachite sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZgContext {
    /// The chain's id, in everything validators sign.
    pub chain_id: u64,
}

impl ZgContext {
    /// The context of chain `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        Self { chain_id }
    }

    fn vote(
        &self,
        vote_type: VoteType,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        validator: ValidatorAddress,
    ) -> Vote {
        Vote {
            chain_id: self.chain_id,
            vote_type,
            height,
            round,
            value,
            validator,
            extension: None,
        }
    }
}

impl Context for ZgContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    // Round robin over the validators by address, moving on one per height and round.
    fn select_proposer<'a>(
        &self,
        validators: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        let count = validators.validators.len() as u64;
        let round = round.as_u32().map_or(0, u64::from);
        let index = height.0.wrapping_add(round) % count;
        &validators.validators[index as usize]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        proposer: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            chain_id: self.chain_id,
            height,
            round,
            value,
            pol_round,
            proposer,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        validator: ValidatorAddress,
    ) -> Vote {
        self.vote(VoteType::Prevote, height, round, value, validator)
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value: NilOrVal<BlockId>,
        validator: ValidatorAddress,
    ) -> Vote {
        self.vote(VoteType::Precommit, height, round, value, validator)
    }
}
