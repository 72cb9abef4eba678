//! What storage nodes carry over the p2p network: file announcements on gossip, and
//! segment and inventory requests (zg-file's replication formats).

use zg_file::replica::{FileEntry, FileRequest, FileResponse, MAX_FILE_REQUEST, MAX_FILE_RESPONSE};
use zg_node::p2p::P2pService;

/// The storage nodes' p2p service.
#[derive(Debug)]
pub struct FileProtocol;

impl P2pService for FileProtocol {
    const TOPIC: &'static str = "zg/storage/files/1";
    const PROTOCOL: &'static str = "/zg/storage/segments/1";
    const MAX_REQUEST: usize = MAX_FILE_REQUEST;
    const MAX_RESPONSE: usize = MAX_FILE_RESPONSE;
    type Announcement = FileEntry;
    type Request = FileRequest;
    type Response = FileResponse;

    fn encode_announcement(a: &FileEntry) -> Vec<u8> {
        a.announcement()
    }
    fn decode_announcement(b: &[u8]) -> Result<FileEntry, String> {
        FileEntry::from_announcement(b)
    }
    fn encode_request(r: &FileRequest) -> Vec<u8> {
        r.encode()
    }
    fn decode_request(b: &[u8]) -> Result<FileRequest, String> {
        FileRequest::decode(b)
    }
    fn encode_response(r: &FileResponse) -> Vec<u8> {
        r.encode()
    }
    fn decode_response(b: bytes::Bytes) -> Result<FileResponse, String> {
        FileResponse::decode_shared(&b)
    }
    fn refused(why: String) -> FileResponse {
        FileResponse::Refused(why)
    }
}
