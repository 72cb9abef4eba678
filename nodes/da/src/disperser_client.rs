//! A client of 0G's disperser API: disperse a blob and wait until it is FINALIZED,
//! watching its status go by; used by `zg da submit`, the OP-stack DA server and the
//! benches.

use std::time::Duration;

use tonic::transport::Channel;

use crate::grpc::proto::disperser_client::DisperserClient;
use crate::grpc::proto::{BlobStatus, BlobStatusRequest, DisperseBlobRequest, RetrieveBlobRequest};

/// A disperser API client with zg's message limits.
pub type Disperser = DisperserClient<Channel>;

/// Why a dispersal did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DisperseClientError {
    /// The URL is not one.
    #[error("the disperser URL {0:?} is not a URL")]
    BadUrl(String),
    /// The disperser refused or failed a call.
    #[error("{call}: {message}")]
    Refused {
        /// The RPC.
        call: &'static str,
        /// Its status message.
        message: String,
    },
    /// The blob FAILED.
    #[error("the dispersal FAILED")]
    Failed,
    /// Not FINALIZED in time.
    #[error("not FINALIZED within {0} s")]
    Timeout(u64),
    /// FINALIZED without usable coordinates.
    #[error("FINALIZED without a 32-byte storage root")]
    NoHeader,
}

/// A finalized blob: its request id and coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finalized {
    /// 0G's request id.
    pub request_id: String,
    /// 0G's storage root.
    pub storage_root: [u8; 32],
    /// The epoch.
    pub epoch: u64,
    /// The quorum.
    pub quorum_id: u64,
}

/// A client of the disperser at `url`, connected when first used.
pub fn connect(url: &str) -> Result<Disperser, DisperseClientError> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|_| DisperseClientError::BadUrl(url.to_owned()))?
        .connect_lazy();
    Ok(DisperserClient::new(channel)
        .max_decoding_message_size(crate::grpc::MAX_ENCODING)
        .max_encoding_message_size(crate::grpc::MAX_DECODING))
}

fn refused(call: &'static str) -> impl Fn(tonic::Status) -> DisperseClientError {
    move |s| DisperseClientError::Refused {
        call,
        message: s.message().to_owned(),
    }
}

/// Disperses `data`, then polls every `poll` until FINALIZED (at most `deadline`),
/// calling `on_status` whenever the status changes.
pub async fn disperse(
    client: &mut Disperser,
    data: Vec<u8>,
    poll: Duration,
    deadline: Duration,
    mut on_status: impl FnMut(BlobStatus),
) -> Result<Finalized, DisperseClientError> {
    let id = client
        .disperse_blob(DisperseBlobRequest { data })
        .await
        .map_err(refused("DisperseBlob"))?
        .into_inner()
        .request_id;
    let request_id = String::from_utf8_lossy(&id).into_owned();
    on_status(BlobStatus::Processing);
    let until = tokio::time::Instant::now() + deadline;
    let mut last = BlobStatus::Processing;
    loop {
        let reply = client
            .get_blob_status(BlobStatusRequest {
                request_id: id.clone(),
            })
            .await
            .map_err(refused("GetBlobStatus"))?
            .into_inner();
        let status = BlobStatus::try_from(reply.status).unwrap_or(BlobStatus::Unknown);
        if status != last {
            on_status(status);
            last = status;
        }
        match status {
            BlobStatus::Finalized => {
                let header = reply
                    .info
                    .and_then(|i| i.blob_header)
                    .ok_or(DisperseClientError::NoHeader)?;
                let storage_root = header
                    .storage_root
                    .as_slice()
                    .try_into()
                    .map_err(|_| DisperseClientError::NoHeader)?;
                return Ok(Finalized {
                    request_id,
                    storage_root,
                    epoch: header.epoch,
                    quorum_id: header.quorum_id,
                });
            }
            BlobStatus::Failed => return Err(DisperseClientError::Failed),
            _ => {}
        }
        if tokio::time::Instant::now() >= until {
            return Err(DisperseClientError::Timeout(deadline.as_secs()));
        }
        tokio::time::sleep(poll).await;
    }
}

/// The bytes of the blob at (`storage_root`, `epoch`, `quorum_id`).
pub async fn retrieve(
    client: &mut Disperser,
    storage_root: Vec<u8>,
    epoch: u64,
    quorum_id: u64,
) -> Result<Vec<u8>, DisperseClientError> {
    let request = RetrieveBlobRequest {
        storage_root,
        epoch,
        quorum_id,
    };
    Ok(client
        .retrieve_blob(request)
        .await
        .map_err(refused("RetrieveBlob"))?
        .into_inner()
        .data)
}
