//! What DA nodes carry over the p2p network: submission headers on gossip, and
//! header and cell requests (zg-blob's DA formats).

use zg_blob::da::{DaRequest, DaResponse, MAX_BLOB_RECORD, SubmissionHeader};
use zg_node::p2p::P2pService;

/// The DA nodes' p2p service.
#[derive(Debug)]
pub struct DaProtocol;

impl P2pService for DaProtocol {
    const TOPIC: &'static str = "zg/da/submissions/1";
    const PROTOCOL: &'static str = "/zg/da/cells/1";
    /// A request is a tag, an id, a blob index and a cell bitmap.
    const MAX_REQUEST: usize = 64;
    /// One blob record and a tag.
    const MAX_RESPONSE: usize = MAX_BLOB_RECORD + 1;
    type Announcement = SubmissionHeader;
    type Request = DaRequest;
    type Response = DaResponse;

    fn encode_announcement(a: &SubmissionHeader) -> Vec<u8> {
        a.encode()
    }
    fn decode_announcement(b: &[u8]) -> Result<SubmissionHeader, String> {
        SubmissionHeader::decode(b).map_err(|e| e.to_string())
    }
    fn encode_request(r: &DaRequest) -> Vec<u8> {
        r.encode()
    }
    fn decode_request(b: &[u8]) -> Result<DaRequest, String> {
        DaRequest::decode(b)
    }
    fn encode_response(r: &DaResponse) -> Vec<u8> {
        r.encode()
    }
    fn decode_response(b: bytes::Bytes) -> Result<DaResponse, String> {
        DaResponse::decode(&b)
    }
    fn refused(why: String) -> DaResponse {
        DaResponse::Refused(why)
    }
}
