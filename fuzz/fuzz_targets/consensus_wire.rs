//! Every consensus, sync and WAL message decoder on arbitrary bytes: the first byte
//! picks the message type. A typed error, or a message that re-encodes to bytes that
//! decode to the same message; never a panic.
#![no_main]

use arc_malachitebft_app_channel::app::consensus::LivenessMsg;
use arc_malachitebft_app_channel::app::streaming::StreamMessage;
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::app::types::core::{PolkaCertificate, ValidatorProof};
use arc_malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use arc_malachitebft_app_channel::app::types::{ProposedValue, SignedConsensusMsg};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zg_consensus::{
    ProposalPart, WireCodec, ZgContext, decode_commit_certificate, encode_commit_certificate,
};

fn check<T: PartialEq + std::fmt::Debug>(bytes: Bytes)
where
    WireCodec: Codec<T>,
{
    if let Ok(message) = WireCodec.decode(bytes) {
        // The codec's error type need not be Debug: match instead of expect.
        let Ok(again) = WireCodec.encode(&message) else {
            panic!("a decoded message encodes");
        };
        let Ok(decoded) = WireCodec.decode(again) else {
            panic!("what was encoded decodes");
        };
        assert_eq!(decoded, message);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, rest)) = data.split_first() else {
        return;
    };
    let bytes = Bytes::copy_from_slice(rest);
    match kind % 11 {
        0 => check::<ProposalPart>(bytes),
        1 => check::<SignedConsensusMsg<ZgContext>>(bytes),
        2 => check::<LivenessMsg<ZgContext>>(bytes),
        3 => check::<StreamMessage<ProposalPart>>(bytes),
        4 => check::<ValidatorProof<ZgContext>>(bytes),
        5 => check::<PolkaCertificate<ZgContext>>(bytes),
        6 => check::<ProposedValue<ZgContext>>(bytes),
        7 => check::<Status<ZgContext>>(bytes),
        8 => check::<Request<ZgContext>>(bytes),
        9 => check::<Response<ZgContext>>(bytes),
        _ => {
            if let Ok(certificate) = decode_commit_certificate(rest) {
                assert_eq!(
                    decode_commit_certificate(&encode_commit_certificate(&certificate)).unwrap(),
                    certificate
                );
            }
        }
    }
});
