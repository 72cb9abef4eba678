//! The wire and WAL form of every consensus message, in zg's binary format: each
//! read checked against the bytes left and the limits below before it allocates,
//! so a malformed message from a peer is a typed error, never a panic.

use std::ops::RangeInclusive;

use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::engine::util::streaming::StreamContent;
use arc_malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal,
    PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType, RoundSignature,
    SignedExtension, SignedMessage, ValidatorProof, Validity, VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_signing_ed25519::Signature;
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;
use zg_codec::{CodecError, Reader, Writer};

use crate::types::{
    BlockId, Height, MAX_VALIDATORS, Proposal, ProposalPart, ValidatorAddress, Vote, ZgContext,
};

/// Largest chunk of a proposed block in one part.
pub const MAX_PART_BYTES: usize = 1 << 20;
/// Largest decided block a sync response carries (the block log's record limit).
pub const MAX_VALUE_BYTES: usize = zg_evm::MAX_RECORD;
/// Most decided blocks in one sync response.
pub const MAX_SYNC_VALUES: usize = 256;
// Stream ids and peer ids are short; these bound what a peer may send.
const MAX_STREAM_ID: usize = 64;
const MAX_PEER_ID: usize = 128;
const MAX_KEY: usize = 64;

/// Why bytes are not a consensus message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Truncated, over a limit, a wrong tag or trailing bytes.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A field with a value outside its range.
    #[error("{what}: {reason}")]
    Invalid {
        /// The message.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(what: &'static str, reason: impl Into<String>) -> WireError {
    WireError::Invalid {
        what,
        reason: reason.into(),
    }
}

/// zg's codec for Malachite's network, sync and WAL messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireCodec;

// Tags: one byte ahead of every message and of every enum's variant.
const TAG_VOTE: u8 = 1;
const TAG_PROPOSAL: u8 = 2;
const TAG_PART_INIT: u8 = 0x10;
const TAG_PART_DATA: u8 = 0x11;
const TAG_PART_FIN: u8 = 0x12;
const TAG_LIVENESS_VOTE: u8 = 0x20;
const TAG_LIVENESS_POLKA: u8 = 0x21;
const TAG_LIVENESS_SKIP: u8 = 0x22;

fn put_round(w: &mut Writer, round: Round) {
    match round.as_u32() {
        None => w.tag(0),
        Some(r) => w.tag(1).u32(r),
    };
}

fn round(r: &mut Reader<'_>) -> Result<Round, WireError> {
    match r.u8()? {
        0 => Ok(Round::Nil),
        1 => Ok(Round::new(r.u32()?)),
        other => Err(invalid(r.what(), format!("round tag {other}"))),
    }
}

fn put_value(w: &mut Writer, value: &NilOrVal<BlockId>) {
    match value {
        NilOrVal::Nil => w.tag(0),
        NilOrVal::Val(id) => w.tag(1).bytes(id.0.as_slice()),
    };
}

fn value(r: &mut Reader<'_>) -> Result<NilOrVal<BlockId>, WireError> {
    match r.u8()? {
        0 => Ok(NilOrVal::Nil),
        1 => Ok(NilOrVal::Val(block_id(r)?)),
        other => Err(invalid(r.what(), format!("value tag {other}"))),
    }
}

fn block_id(r: &mut Reader<'_>) -> Result<BlockId, WireError> {
    Ok(BlockId(r.array::<32>()?.into()))
}

fn address(r: &mut Reader<'_>) -> Result<ValidatorAddress, WireError> {
    Ok(ValidatorAddress(r.array()?))
}

fn signature(r: &mut Reader<'_>) -> Result<Signature, WireError> {
    Ok(Signature::from_bytes(r.array()?))
}

fn vote_type(r: &mut Reader<'_>) -> Result<VoteType, WireError> {
    match r.u8()? {
        0 => Ok(VoteType::Prevote),
        1 => Ok(VoteType::Precommit),
        other => Err(invalid(r.what(), format!("vote type {other}"))),
    }
}

fn put_vote_type(w: &mut Writer, vote_type: VoteType) {
    w.tag(match vote_type {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    });
}

// Length-prefixed bytes (u32), at most `max`.
fn put_bytes(w: &mut Writer, bytes: &[u8]) {
    w.u32(bytes.len() as u32).bytes(bytes);
}

fn sized_bytes<'a>(r: &mut Reader<'a>, max: usize) -> Result<&'a [u8], WireError> {
    let n = r.count(|r| r.u32().map(u64::from), max as u64, 1)?;
    Ok(r.take(n)?)
}

// Counts of repeated items, checked against the limit and the bytes left.
fn count(r: &mut Reader<'_>, max: usize, item_len: usize) -> Result<usize, WireError> {
    Ok(r.count(|r| r.u32().map(u64::from), max as u64, item_len)?)
}

/// The bytes a validator signs for `vote`: a domain tag, then the vote without its
/// extension (the chain id is in it, so no vote counts on another chain).
pub fn vote_sign_bytes(vote: &Vote) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    w.bytes(b"zg-consensus/vote/v1");
    put_vote(&mut w, vote);
    w.into_bytes()
}

/// The bytes a proposer signs for `proposal`.
pub fn proposal_sign_bytes(proposal: &Proposal) -> Vec<u8> {
    let mut w = Writer::with_capacity(128);
    w.bytes(b"zg-consensus/proposal/v1");
    put_proposal(&mut w, proposal);
    w.into_bytes()
}

fn put_vote(w: &mut Writer, vote: &Vote) {
    w.tag(TAG_VOTE).u64(vote.chain_id);
    put_vote_type(w, vote.vote_type);
    w.u64(vote.height.0);
    put_round(w, vote.round);
    put_value(w, &vote.value);
    w.bytes(&vote.validator.0);
}

fn read_vote(r: &mut Reader<'_>) -> Result<Vote, WireError> {
    r.tag(TAG_VOTE)?;
    Ok(Vote {
        chain_id: r.u64()?,
        vote_type: vote_type(r)?,
        height: Height(r.u64()?),
        round: round(r)?,
        value: value(r)?,
        validator: address(r)?,
        extension: None,
    })
}

fn put_proposal(w: &mut Writer, proposal: &Proposal) {
    w.tag(TAG_PROPOSAL).u64(proposal.chain_id).u64(proposal.height.0);
    put_round(w, proposal.round);
    w.bytes(proposal.value.0.as_slice());
    put_round(w, proposal.pol_round);
    w.bytes(&proposal.proposer.0);
}

fn read_proposal(r: &mut Reader<'_>) -> Result<Proposal, WireError> {
    r.tag(TAG_PROPOSAL)?;
    Ok(Proposal {
        chain_id: r.u64()?,
        height: Height(r.u64()?),
        round: round(r)?,
        value: block_id(r)?,
        pol_round: round(r)?,
        proposer: address(r)?,
    })
}

// A vote extension (empty, so only its signature), or none.
fn put_extension(w: &mut Writer, extension: Option<&SignedExtension<ZgContext>>) {
    match extension {
        None => w.tag(0),
        Some(extension) => w.tag(1).bytes(&extension.signature.to_bytes()),
    };
}

fn extension(r: &mut Reader<'_>) -> Result<Option<SignedExtension<ZgContext>>, WireError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(SignedMessage::new((), signature(r)?))),
        other => Err(invalid(r.what(), format!("extension tag {other}"))),
    }
}

// A signed vote: the vote, its signature, and its extension if any.
fn put_signed_vote(w: &mut Writer, vote: &SignedMessage<ZgContext, Vote>) {
    put_vote(w, &vote.message);
    w.bytes(&vote.signature.to_bytes());
    put_extension(w, vote.message.extension.as_ref());
}

fn read_signed_vote(r: &mut Reader<'_>) -> Result<SignedMessage<ZgContext, Vote>, WireError> {
    let mut vote = read_vote(r)?;
    let signature = signature(r)?;
    vote.extension = extension(r)?;
    Ok(SignedMessage::new(vote, signature))
}

fn put_part(w: &mut Writer, part: &ProposalPart) {
    match part {
        ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        } => {
            w.tag(TAG_PART_INIT).u64(height.0);
            put_round(w, *round);
            put_round(w, *pol_round);
            w.bytes(&proposer.0);
        }
        ProposalPart::Data(chunk) => {
            w.tag(TAG_PART_DATA);
            put_bytes(w, chunk);
        }
        ProposalPart::Fin(signature) => {
            w.tag(TAG_PART_FIN).bytes(&signature.to_bytes());
        }
    }
}

fn read_part(r: &mut Reader<'_>) -> Result<ProposalPart, WireError> {
    match r.u8()? {
        TAG_PART_INIT => Ok(ProposalPart::Init {
            height: Height(r.u64()?),
            round: round(r)?,
            pol_round: round(r)?,
            proposer: address(r)?,
        }),
        TAG_PART_DATA => Ok(ProposalPart::Data(Bytes::copy_from_slice(sized_bytes(
            r,
            MAX_PART_BYTES,
        )?))),
        TAG_PART_FIN => Ok(ProposalPart::Fin(signature(r)?)),
        other => Err(invalid(r.what(), format!("proposal part tag {other}"))),
    }
}

/// The bytes a proposer's [`ProposalPart::Fin`] signature covers: a domain tag, the
/// chain id, the init part and every data chunk, each length-prefixed.
pub fn parts_sign_bytes<'a>(
    chain_id: u64,
    init: &ProposalPart,
    chunks: impl IntoIterator<Item = &'a Bytes>,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(256);
    w.bytes(b"zg-consensus/parts/v1").u64(chain_id);
    put_part(&mut w, init);
    for chunk in chunks {
        put_bytes(&mut w, chunk);
    }
    w.into_bytes()
}

fn put_polka(w: &mut Writer, certificate: &PolkaCertificate<ZgContext>) {
    w.u64(certificate.height.0);
    put_round(w, certificate.round);
    w.bytes(certificate.value_id.0.as_slice());
    w.u32(certificate.polka_signatures.len() as u32);
    for signature in &certificate.polka_signatures {
        w.bytes(&signature.address.0)
            .bytes(&signature.signature.to_bytes());
    }
}

fn read_polka(r: &mut Reader<'_>) -> Result<PolkaCertificate<ZgContext>, WireError> {
    let height = Height(r.u64()?);
    let round = round(r)?;
    let value_id = block_id(r)?;
    let n = count(r, MAX_VALIDATORS, 20 + 64)?;
    let polka_signatures = (0..n)
        .map(|_| Ok(PolkaSignature::new(address(r)?, signature(r)?)))
        .collect::<Result<_, WireError>>()?;
    Ok(PolkaCertificate {
        height,
        round,
        value_id,
        polka_signatures,
    })
}

fn put_round_certificate(w: &mut Writer, certificate: &RoundCertificate<ZgContext>) {
    w.u64(certificate.height.0);
    put_round(w, certificate.round);
    w.tag(match certificate.cert_type {
        RoundCertificateType::Skip => 0,
        RoundCertificateType::Precommit => 1,
    });
    w.u32(certificate.round_signatures.len() as u32);
    for signature in &certificate.round_signatures {
        put_vote_type(w, signature.vote_type);
        put_value(w, &signature.value_id);
        w.bytes(&signature.address.0)
            .bytes(&signature.signature.to_bytes());
    }
}

fn read_round_certificate(r: &mut Reader<'_>) -> Result<RoundCertificate<ZgContext>, WireError> {
    let height = Height(r.u64()?);
    let round = round(r)?;
    let cert_type = match r.u8()? {
        0 => RoundCertificateType::Skip,
        1 => RoundCertificateType::Precommit,
        other => return Err(invalid(r.what(), format!("round certificate type {other}"))),
    };
    let n = count(r, MAX_VALIDATORS, 1 + 1 + 20 + 64)?;
    let round_signatures = (0..n)
        .map(|_| {
            Ok(RoundSignature::new(
                vote_type(r)?,
                value(r)?,
                address(r)?,
                signature(r)?,
            ))
        })
        .collect::<Result<_, WireError>>()?;
    Ok(RoundCertificate {
        height,
        round,
        cert_type,
        round_signatures,
    })
}

fn put_extended_certificate(w: &mut Writer, certificate: &ExtendedCommitCertificate<ZgContext>) {
    w.u64(certificate.height.0);
    put_round(w, certificate.round);
    w.bytes(certificate.value_id.0.as_slice());
    w.u32(certificate.commit_signatures.len() as u32);
    for signature in &certificate.commit_signatures {
        w.bytes(&signature.address.0)
            .bytes(&signature.signature.to_bytes());
        put_extension(w, signature.extension.as_ref());
    }
}

fn read_extended_certificate(r: &mut Reader<'_>) -> Result<ExtendedCommitCertificate<ZgContext>, WireError> {
    let height = Height(r.u64()?);
    let round = round(r)?;
    let value_id = block_id(r)?;
    let n = count(r, MAX_VALIDATORS, 20 + 64 + 1)?;
    let commit_signatures = (0..n)
        .map(|_| {
            let address = address(r)?;
            let signature = signature(r)?;
            Ok(ExtendedCommitSignature::new(address, signature, extension(r)?))
        })
        .collect::<Result<_, WireError>>()?;
    Ok(ExtendedCommitCertificate {
        height,
        round,
        value_id,
        commit_signatures,
    })
}

/// A decided block's commit certificate as the block log keeps it.
pub fn encode_commit_certificate(certificate: &CommitCertificate<ZgContext>) -> Bytes {
    let mut w = Writer::with_capacity(64 + certificate.commit_signatures.len() * 84);
    w.u64(certificate.height.0);
    put_round(&mut w, certificate.round);
    w.bytes(certificate.value_id.0.as_slice());
    w.u32(certificate.commit_signatures.len() as u32);
    for signature in &certificate.commit_signatures {
        w.bytes(&signature.address.0)
            .bytes(&signature.signature.to_bytes());
    }
    Bytes::from(w.into_bytes())
}

/// Reads a certificate written by [`encode_commit_certificate`].
pub fn decode_commit_certificate(bytes: &[u8]) -> Result<CommitCertificate<ZgContext>, WireError> {
    let mut r = Reader::new("commit certificate", bytes);
    let height = Height(r.u64()?);
    let round = round(&mut r)?;
    let value_id = block_id(&mut r)?;
    let n = count(&mut r, MAX_VALIDATORS, 20 + 64)?;
    let commit_signatures = (0..n)
        .map(|_| Ok(CommitSignature::new(address(&mut r)?, signature(&mut r)?)))
        .collect::<Result<_, WireError>>()?;
    r.finish()?;
    Ok(CommitCertificate {
        height,
        round,
        value_id,
        commit_signatures,
    })
}

fn peer_id(r: &mut Reader<'_>) -> Result<PeerId, WireError> {
    let raw = sized_bytes(r, MAX_PEER_ID)?;
    PeerId::from_bytes(raw).map_err(|e| invalid(r.what(), format!("peer id: {e}")))
}

// Encodes with `put`, decodes with `read` and checks nothing is left over.
fn encode_with(capacity: usize, put: impl FnOnce(&mut Writer)) -> Result<Bytes, WireError> {
    let mut w = Writer::with_capacity(capacity);
    put(&mut w);
    Ok(Bytes::from(w.into_bytes()))
}

fn decode_with<T>(
    what: &'static str,
    bytes: &[u8],
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    let mut r = Reader::new(what, bytes);
    let value = read(&mut r)?;
    r.finish()?;
    Ok(value)
}

impl Codec<ProposalPart> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, WireError> {
        decode_with("proposal part", &bytes, read_part)
    }

    fn encode(&self, part: &ProposalPart) -> Result<Bytes, WireError> {
        encode_with(128, |w| put_part(w, part))
    }
}

impl Codec<BlockId> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<BlockId, WireError> {
        decode_with("block id", &bytes, block_id)
    }

    fn encode(&self, id: &BlockId) -> Result<Bytes, WireError> {
        encode_with(32, |w| {
            w.bytes(id.0.as_slice());
        })
    }
}

impl Codec<SignedConsensusMsg<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<ZgContext>, WireError> {
        decode_with("consensus message", &bytes, |r| {
            // The tag is the message's own first byte: peek without taking it.
            match r.clone().u8()? {
                TAG_VOTE => Ok(SignedConsensusMsg::Vote(read_signed_vote(r)?)),
                TAG_PROPOSAL => {
                    let proposal = read_proposal(r)?;
                    Ok(SignedConsensusMsg::Proposal(SignedMessage::new(
                        proposal,
                        signature(r)?,
                    )))
                }
                other => Err(invalid(r.what(), format!("message tag {other}"))),
            }
        })
    }

    fn encode(&self, msg: &SignedConsensusMsg<ZgContext>) -> Result<Bytes, WireError> {
        encode_with(192, |w| match msg {
            SignedConsensusMsg::Vote(vote) => put_signed_vote(w, vote),
            SignedConsensusMsg::Proposal(proposal) => {
                put_proposal(w, &proposal.message);
                w.bytes(&proposal.signature.to_bytes());
            }
        })
    }
}

impl Codec<LivenessMsg<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<ZgContext>, WireError> {
        decode_with("liveness message", &bytes, |r| match r.u8()? {
            TAG_LIVENESS_VOTE => Ok(LivenessMsg::Vote(read_signed_vote(r)?)),
            TAG_LIVENESS_POLKA => Ok(LivenessMsg::PolkaCertificate(read_polka(r)?)),
            TAG_LIVENESS_SKIP => Ok(LivenessMsg::SkipRoundCertificate(read_round_certificate(r)?)),
            other => Err(invalid(r.what(), format!("liveness tag {other}"))),
        })
    }

    fn encode(&self, msg: &LivenessMsg<ZgContext>) -> Result<Bytes, WireError> {
        encode_with(256, |w| match msg {
            LivenessMsg::Vote(vote) => {
                w.tag(TAG_LIVENESS_VOTE);
                put_signed_vote(w, vote);
            }
            LivenessMsg::PolkaCertificate(certificate) => {
                w.tag(TAG_LIVENESS_POLKA);
                put_polka(w, certificate);
            }
            LivenessMsg::SkipRoundCertificate(certificate) => {
                w.tag(TAG_LIVENESS_SKIP);
                put_round_certificate(w, certificate);
            }
        })
    }
}

impl Codec<StreamMessage<ProposalPart>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, WireError> {
        decode_with("proposal stream message", &bytes, |r| {
            let stream_id = StreamId::new(Bytes::copy_from_slice(sized_bytes(r, MAX_STREAM_ID)?));
            let sequence = r.u64()?;
            let content = match r.u8()? {
                0 => StreamContent::Data(read_part(r)?),
                1 => StreamContent::Fin,
                other => return Err(invalid(r.what(), format!("stream content tag {other}"))),
            };
            Ok(StreamMessage::new(stream_id, sequence, content))
        })
    }

    fn encode(&self, msg: &StreamMessage<ProposalPart>) -> Result<Bytes, WireError> {
        encode_with(128, |w| {
            put_bytes(w, &msg.stream_id.to_bytes());
            w.u64(msg.sequence);
            match &msg.content {
                StreamContent::Data(part) => {
                    w.tag(0);
                    put_part(w, part);
                }
                StreamContent::Fin => {
                    w.tag(1);
                }
            }
        })
    }
}

impl Codec<ValidatorProof<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<ZgContext>, WireError> {
        decode_with("validator proof", &bytes, |r| {
            let public_key = sized_bytes(r, MAX_KEY)?.to_vec();
            let peer_id = sized_bytes(r, MAX_PEER_ID)?.to_vec();
            Ok(ValidatorProof::new(public_key, peer_id, signature(r)?))
        })
    }

    fn encode(&self, proof: &ValidatorProof<ZgContext>) -> Result<Bytes, WireError> {
        encode_with(160, |w| {
            put_bytes(w, &proof.public_key);
            put_bytes(w, &proof.peer_id);
            w.bytes(&proof.signature.to_bytes());
        })
    }
}

impl Codec<PolkaCertificate<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<ZgContext>, WireError> {
        decode_with("polka certificate", &bytes, read_polka)
    }

    fn encode(&self, certificate: &PolkaCertificate<ZgContext>) -> Result<Bytes, WireError> {
        encode_with(64 + certificate.polka_signatures.len() * 84, |w| {
            put_polka(w, certificate);
        })
    }
}

impl Codec<ProposedValue<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<ZgContext>, WireError> {
        decode_with("proposed value", &bytes, |r| {
            Ok(ProposedValue {
                height: Height(r.u64()?),
                round: round(r)?,
                valid_round: round(r)?,
                proposer: address(r)?,
                value: block_id(r)?,
                validity: match r.u8()? {
                    0 => Validity::Invalid,
                    1 => Validity::Valid,
                    other => return Err(invalid(r.what(), format!("validity {other}"))),
                },
            })
        })
    }

    fn encode(&self, value: &ProposedValue<ZgContext>) -> Result<Bytes, WireError> {
        encode_with(80, |w| {
            w.u64(value.height.0);
            put_round(w, value.round);
            put_round(w, value.valid_round);
            w.bytes(&value.proposer.0).bytes(value.value.0.as_slice());
            w.tag(u8::from(value.validity.is_valid()));
        })
    }
}

impl Codec<Status<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Status<ZgContext>, WireError> {
        decode_with("sync status", &bytes, |r| {
            Ok(Status {
                peer_id: peer_id(r)?,
                tip_height: Height(r.u64()?),
                history_min_height: Height(r.u64()?),
            })
        })
    }

    fn encode(&self, status: &Status<ZgContext>) -> Result<Bytes, WireError> {
        encode_with(64, |w| {
            put_bytes(w, &status.peer_id.to_bytes());
            w.u64(status.tip_height.0).u64(status.history_min_height.0);
        })
    }
}

impl Codec<Request<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Request<ZgContext>, WireError> {
        decode_with("sync request", &bytes, |r| {
            let range: RangeInclusive<Height> = Height(r.u64()?)..=Height(r.u64()?);
            if range.start() > range.end() {
                return Err(invalid(r.what(), "range ends before it starts"));
            }
            Ok(Request::ValueRequest(ValueRequest::new(range)))
        })
    }

    fn encode(&self, request: &Request<ZgContext>) -> Result<Bytes, WireError> {
        let Request::ValueRequest(request) = request;
        encode_with(16, |w| {
            w.u64(request.range.start().0).u64(request.range.end().0);
        })
    }
}

fn put_response(w: &mut Writer, response: &ValueResponse<ZgContext>) {
    w.u64(response.start_height.0);
    w.u32(response.values.len() as u32);
    for value in &response.values {
        put_bytes(w, &value.value_bytes);
        put_extended_certificate(w, &value.certificate);
    }
}

impl Codec<Response<ZgContext>> for WireCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Response<ZgContext>, WireError> {
        decode_with("sync response", &bytes, |r| {
            let start_height = Height(r.u64()?);
            let n = count(r, MAX_SYNC_VALUES, 4 + 8 + 1 + 32 + 4)?;
            let values = (0..n)
                .map(|_| {
                    let value_bytes = Bytes::copy_from_slice(sized_bytes(r, MAX_VALUE_BYTES)?);
                    Ok(RawDecidedValue::new(value_bytes, read_extended_certificate(r)?))
                })
                .collect::<Result<_, WireError>>()?;
            Ok(Response::ValueResponse(ValueResponse::new(start_height, values)))
        })
    }

    fn encode(&self, response: &Response<ZgContext>) -> Result<Bytes, WireError> {
        let Response::ValueResponse(response) = response;
        encode_with(64, |w| put_response(w, response))
    }
}

impl HasEncodedLen<Response<ZgContext>> for WireCodec {
    fn encoded_len(&self, response: &Response<ZgContext>) -> Result<usize, WireError> {
        let Response::ValueResponse(response) = response;
        let certificate = |c: &ExtendedCommitCertificate<ZgContext>| {
            8 + 5
                + 32
                + 4
                + c.commit_signatures
                    .iter()
                    .map(|s| 84 + 1 + if s.extension.is_some() { 64 } else { 0 })
                    .sum::<usize>()
        };
        Ok(8 + 4
            + response
                .values
                .iter()
                .map(|v| 4 + v.value_bytes.len() + certificate(&v.certificate))
                .sum::<usize>())
    }
}
