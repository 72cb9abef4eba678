//! Every consensus, sync and WAL message through zg's codec: each round-trips, every
//! truncation and every oversized count is a typed error, and signatures bind the
//! message and the chain.

use alloy_primitives::B256;
use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::engine::util::streaming::StreamContent;
use arc_malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    CommitSignature, Context, ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate,
    PolkaSignature, Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, Validity,
    VoteType,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_app_channel::app::types::{PeerId, ProposedValue, SignedConsensusMsg};
use arc_malachitebft_app_channel::{Signer, Verifier};
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;
use zg_consensus::{
    BlockId, Height, MAX_VALIDATORS, ProposalPart, Validator, ValidatorKey, ValidatorSet, ValidatorSetError,
    WireCodec, WireError, ZgContext, ZgVerifier, decode_commit_certificate, encode_commit_certificate,
};

const CHAIN: u64 = 16601;

fn key(i: u8) -> ValidatorKey {
    ValidatorKey::from_secret([i + 1; 32], CHAIN)
}

fn peer() -> PeerId {
    let keypair = arc_malachitebft_app_channel::app::types::Keypair::generate_ed25519();
    PeerId::from_bytes(&keypair.public().to_peer_id().to_bytes()).unwrap()
}

fn block(i: u8) -> BlockId {
    BlockId(B256::repeat_byte(i))
}

// The signer and verifier are async for signers that call out (an HSM); ours answer at once.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn roundtrip<T, C>(codec: &C, message: &T) -> Bytes
where
    C: Codec<T, Error = WireError>,
    T: PartialEq + std::fmt::Debug,
{
    let bytes = codec.encode(message).unwrap();
    assert_eq!(&codec.decode(bytes.clone()).unwrap(), message);
    // Every strict prefix, and one trailing byte, is refused with an error.
    for len in 0..bytes.len() {
        assert!(
            codec.decode(bytes.slice(..len)).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(matches!(
        codec.decode(Bytes::from(longer)),
        Err(WireError::Codec(zg_codec::CodecError::TrailingBytes { .. }))
    ));
    bytes
}

fn signed_vote(
    i: u8,
    vote_type: VoteType,
    value: NilOrVal<BlockId>,
) -> SignedMessage<ZgContext, zg_consensus::Vote> {
    let ctx = ZgContext::new(CHAIN);
    let vote = match vote_type {
        VoteType::Prevote => ctx.new_prevote(Height(7), Round::new(2), value, key(i).address()),
        VoteType::Precommit => ctx.new_precommit(Height(7), Round::new(2), value, key(i).address()),
    };
    block_on(key(i).sign_vote(vote)).unwrap()
}

#[test]
fn consensus_messages_round_trip_and_refuse_every_truncation() {
    let codec = WireCodec;
    let ctx = ZgContext::new(CHAIN);
    for vote in [
        signed_vote(0, VoteType::Prevote, NilOrVal::Val(block(1))),
        signed_vote(1, VoteType::Precommit, NilOrVal::Nil),
    ] {
        roundtrip(&codec, &SignedConsensusMsg::Vote(vote.clone()));
        roundtrip(&codec, &LivenessMsg::Vote(vote));
    }
    let proposal = ctx.new_proposal(Height(7), Round::new(0), block(3), Round::Nil, key(2).address());
    let signed = block_on(key(2).sign_proposal(proposal)).unwrap();
    roundtrip(&codec, &SignedConsensusMsg::Proposal(signed));

    let init = ProposalPart::Init {
        height: Height(7),
        round: Round::new(1),
        pol_round: Round::new(0),
        proposer: key(2).address(),
    };
    let data = ProposalPart::Data(Bytes::from(vec![0xab; 1000]));
    let fin = ProposalPart::Fin(key(2).sign(b"parts"));
    for (sequence, part) in [&init, &data, &fin].into_iter().enumerate() {
        roundtrip(&codec, part);
        let message = StreamMessage::new(
            StreamId::new(Bytes::from_static(b"stream-7-1")),
            sequence as u64,
            StreamContent::Data(part.clone()),
        );
        roundtrip(&codec, &message);
    }
    roundtrip(
        &codec,
        &StreamMessage::<ProposalPart>::new(StreamId::new(Bytes::from_static(b"s")), 3, StreamContent::Fin),
    );

    let polka = PolkaCertificate {
        height: Height(7),
        round: Round::new(2),
        value_id: block(1),
        polka_signatures: (0..4)
            .map(|i| {
                PolkaSignature::new(
                    key(i).address(),
                    signed_vote(i, VoteType::Prevote, NilOrVal::Val(block(1))).signature,
                )
            })
            .collect(),
    };
    roundtrip(&codec, &polka);
    roundtrip(&codec, &LivenessMsg::PolkaCertificate(polka));
    let skip = RoundCertificate {
        height: Height(7),
        round: Round::new(3),
        cert_type: RoundCertificateType::Skip,
        round_signatures: (0..3)
            .map(|i| {
                let value = if i == 0 {
                    NilOrVal::Nil
                } else {
                    NilOrVal::Val(block(i))
                };
                let vote = signed_vote(i, VoteType::Precommit, value);
                RoundSignature::new(VoteType::Precommit, value, key(i).address(), vote.signature)
            })
            .collect(),
    };
    roundtrip(&codec, &LivenessMsg::SkipRoundCertificate(skip));

    let proof =
        block_on(key(0).sign_validator_proof(key(0).public_key().as_bytes().to_vec(), peer().to_bytes()))
            .unwrap();
    roundtrip(&codec, &proof);
    assert!(
        block_on(ZgVerifier::new(CHAIN).verify_validator_proof(&proof))
            .unwrap()
            .is_valid()
    );

    for validity in [Validity::Valid, Validity::Invalid] {
        roundtrip(
            &codec,
            &ProposedValue {
                height: Height(9),
                round: Round::new(0),
                valid_round: Round::Nil,
                proposer: key(3).address(),
                value: block(5),
                validity,
            },
        );
    }
}

#[test]
fn sync_messages_round_trip_and_their_length_is_exact() {
    let codec = WireCodec;
    roundtrip(
        &codec,
        &Status {
            peer_id: peer(),
            tip_height: Height(100),
            history_min_height: Height(1),
        },
    );
    roundtrip(
        &codec,
        &Request::ValueRequest(ValueRequest::new(Height(3)..=Height(9))),
    );
    let reversed = {
        let mut bytes = codec
            .encode(&Request::<ZgContext>::ValueRequest(ValueRequest::new(
                Height(3)..=Height(9),
            )))
            .unwrap()
            .to_vec();
        bytes[..8].copy_from_slice(&10u64.to_le_bytes());
        Bytes::from(bytes)
    };
    assert!(matches!(
        Codec::<Request<ZgContext>>::decode(&codec, reversed),
        Err(WireError::Invalid { .. })
    ));

    let certificate = |height: u64| ExtendedCommitCertificate {
        height: Height(height),
        round: Round::new(0),
        value_id: block(height as u8),
        commit_signatures: (0..4)
            .map(|i| {
                let vote = signed_vote(i, VoteType::Precommit, NilOrVal::Val(block(height as u8)));
                ExtendedCommitSignature::new(key(i).address(), vote.signature, None)
            })
            .collect(),
    };
    let response = Response::ValueResponse(ValueResponse::new(
        Height(3),
        (3..6)
            .map(|h| RawDecidedValue::new(Bytes::from(vec![h as u8; 100 + h as usize]), certificate(h)))
            .collect(),
    ));
    let bytes = roundtrip(&codec, &response);
    assert_eq!(codec.encoded_len(&response).unwrap(), bytes.len());
    let empty = Response::ValueResponse(ValueResponse::new(Height(3), Vec::new()));
    assert_eq!(
        codec.encoded_len(&empty).unwrap(),
        roundtrip(&codec, &empty).len()
    );
}

#[test]
fn counts_over_the_limits_are_refused_before_allocating() {
    let codec = WireCodec;
    // A polka certificate claiming more signatures than validators may exist.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&7u64.to_le_bytes());
    bytes.extend_from_slice(&[1, 0, 0, 0, 0]);
    bytes.extend_from_slice(&[0; 32]);
    bytes.extend_from_slice(&(MAX_VALIDATORS as u32 + 1).to_le_bytes());
    let error = Codec::<PolkaCertificate<ZgContext>>::decode(&codec, Bytes::from(bytes.clone())).unwrap_err();
    assert!(
        matches!(
            error,
            WireError::Codec(zg_codec::CodecError::CountTooLarge { .. })
        ),
        "{error}"
    );
    // Within the limit but more than the bytes present: refused without reserving for them.
    let at = bytes.len() - 4;
    bytes[at..].copy_from_slice(&1000u32.to_le_bytes());
    let error = Codec::<PolkaCertificate<ZgContext>>::decode(&codec, Bytes::from(bytes)).unwrap_err();
    assert!(
        matches!(error, WireError::Codec(zg_codec::CodecError::Truncated { .. })),
        "{error}"
    );
    // A data part over the chunk limit.
    let mut part = vec![0x11];
    part.extend_from_slice(&(zg_consensus::MAX_PART_BYTES as u32 + 1).to_le_bytes());
    assert!(Codec::<ProposalPart>::decode(&codec, Bytes::from(part)).is_err());
    // Unknown tags.
    assert!(Codec::<ProposalPart>::decode(&codec, Bytes::from_static(&[0x13])).is_err());
    assert!(Codec::<SignedConsensusMsg<ZgContext>>::decode(&codec, Bytes::from_static(&[9])).is_err());
    assert!(Codec::<LivenessMsg<ZgContext>>::decode(&codec, Bytes::new()).is_err());
}

#[test]
fn signatures_bind_the_message_and_the_chain() {
    let verifier = ZgVerifier::new(CHAIN);
    let vote = signed_vote(0, VoteType::Precommit, NilOrVal::Val(block(1)));
    let key0 = key(0).public_key();
    assert!(
        block_on(verifier.verify_signed_vote(&vote.message, &vote.signature, &key0))
            .unwrap()
            .is_valid()
    );
    // Another block, another signer, another chain: refused.
    let mut other = vote.message.clone();
    other.value = NilOrVal::Val(block(2));
    assert!(
        block_on(verifier.verify_signed_vote(&other, &vote.signature, &key0))
            .unwrap()
            .is_invalid()
    );
    assert!(
        block_on(verifier.verify_signed_vote(&vote.message, &vote.signature, &key(1).public_key()))
            .unwrap()
            .is_invalid()
    );
    let foreign = ValidatorKey::from_secret([1; 32], CHAIN + 1);
    let ctx = ZgContext::new(CHAIN + 1);
    let elsewhere = block_on(foreign.sign_vote(ctx.new_precommit(
        Height(7),
        Round::new(2),
        NilOrVal::Val(block(1)),
        foreign.address(),
    )))
    .unwrap();
    assert!(
        block_on(verifier.verify_signed_vote(&elsewhere.message, &elsewhere.signature, &key0))
            .unwrap()
            .is_invalid()
    );

    let ctx = ZgContext::new(CHAIN);
    let proposal = block_on(key(1).sign_proposal(ctx.new_proposal(
        Height(4),
        Round::new(0),
        block(9),
        Round::Nil,
        key(1).address(),
    )))
    .unwrap();
    assert!(
        block_on(verifier.verify_signed_proposal(
            &proposal.message,
            &proposal.signature,
            &key(1).public_key()
        ))
        .unwrap()
        .is_valid()
    );
    let mut moved = proposal.message.clone();
    moved.height = Height(5);
    assert!(
        block_on(verifier.verify_signed_proposal(&moved, &proposal.signature, &key(1).public_key()))
            .unwrap()
            .is_invalid()
    );
}

#[test]
fn commit_certificates_keep_in_the_block_log() {
    let certificate = arc_malachitebft_app_channel::app::types::core::CommitCertificate::<ZgContext> {
        height: Height(12),
        round: Round::new(1),
        value_id: block(4),
        commit_signatures: (0..4)
            .map(|i| {
                CommitSignature::new(
                    key(i).address(),
                    signed_vote(i, VoteType::Precommit, NilOrVal::Val(block(4))).signature,
                )
            })
            .collect(),
    };
    let bytes = encode_commit_certificate(&certificate);
    assert_eq!(decode_commit_certificate(&bytes).unwrap(), certificate);
    for len in 0..bytes.len() {
        assert!(decode_commit_certificate(&bytes[..len]).is_err());
    }
}

#[test]
fn validator_sets_are_checked_and_rotate_proposers() {
    let validators: Vec<Validator> = (0..4).map(|i| Validator::new(key(i).public_key(), 10)).collect();
    let set = ValidatorSet::new(validators.clone()).unwrap();
    let ctx = ZgContext::new(CHAIN);
    let proposers: Vec<_> = (1..=8)
        .map(|h| ctx.select_proposer(&set, Height(h), Round::new(0)).address)
        .collect();
    // Every validator proposes once in four heights, and a new round moves on.
    for window in proposers.windows(4) {
        let mut sorted = window.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
    }
    assert_ne!(
        ctx.select_proposer(&set, Height(1), Round::new(0)).address,
        ctx.select_proposer(&set, Height(1), Round::new(1)).address
    );
    assert_eq!(
        ValidatorSet::new(Vec::new()).unwrap_err(),
        ValidatorSetError::Empty
    );
    let mut twice = validators.clone();
    twice.push(validators[0].clone());
    assert!(matches!(
        ValidatorSet::new(twice),
        Err(ValidatorSetError::Duplicate(_))
    ));
    let mut powerless = validators;
    powerless[1].voting_power = 0;
    assert!(matches!(
        ValidatorSet::new(powerless),
        Err(ValidatorSetError::BadPower(_))
    ));
}
