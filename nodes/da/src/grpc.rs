//! 0G's disperser API over gRPC (`disperser.Disperser`, 0G's port 51001), a transport of
//! [`crate::dispersal`], with the gRPC health service. 0G's own errors go out with code
//! UNKNOWN and 0G's texts, as its Go server sends them.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use zg_blob::zerog::DispersalStatus;

use crate::dispersal::{Dispersals, DisperseError};

/// The messages and stubs compiled from `proto/disperser.proto`: the server zg runs and
/// the client its tests and `zg da` use.
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("disperser");
}

use proto::disperser_server::{Disperser, DisperserServer};
use proto::{
    BlobHeader, BlobInfo, BlobStatus, BlobStatusReply, BlobStatusRequest, DisperseBlobReply,
    DisperseBlobRequest, RetrieveBlobReply, RetrieveBlobRequest,
};

/// Largest request taken (0G's disperser: 300 MiB).
pub const MAX_DECODING: usize = 300 << 20;
/// Largest reply sent (a 31 MiB blob and room to spare).
pub const MAX_ENCODING: usize = 64 << 20;
/// The response header that carries why a request FAILED.
pub const FAILURE_REASON: &str = "zg-failure-reason";

struct Grpc {
    dispersals: Arc<Dispersals>,
}

fn status(e: DisperseError) -> Status {
    match e {
        DisperseError::NotFound { .. } => Status::not_found(e.to_string()),
        DisperseError::Da(ref inner) => {
            tracing::error!(error = %inner, "disperser request failed");
            Status::internal(e.to_string())
        }
        other => Status::unknown(other.to_string()),
    }
}

// Store and pipeline work is blocking: off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DisperseError> + Send + 'static,
) -> Result<T, Status> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(status),
        Err(e) => Err(Status::internal(e.to_string())),
    }
}

#[tonic::async_trait]
impl Disperser for Grpc {
    async fn disperse_blob(
        &self,
        request: Request<DisperseBlobRequest>,
    ) -> Result<Response<DisperseBlobReply>, Status> {
        let data = request.into_inner().data;
        let d = self.dispersals.clone();
        let id = blocking(move || d.disperse(data)).await?;
        Ok(Response::new(DisperseBlobReply {
            result: BlobStatus::Processing as i32,
            request_id: id.into_bytes(),
        }))
    }

    async fn get_blob_status(
        &self,
        request: Request<BlobStatusRequest>,
    ) -> Result<Response<BlobStatusReply>, Status> {
        let id = request.into_inner().request_id;
        let d = self.dispersals.clone();
        let record = blocking(move || d.status(&id)).await?;
        let status = match record.status {
            DispersalStatus::Processing => BlobStatus::Processing,
            DispersalStatus::Confirmed => BlobStatus::Confirmed,
            DispersalStatus::Failed => BlobStatus::Failed,
            DispersalStatus::Finalized => BlobStatus::Finalized,
        };
        // 0G sends `info` always, empty until the blob is CONFIRMED (a PROCESSING one
        // may have coordinates already: uploaded, not yet certified).
        let certified = matches!(status, BlobStatus::Confirmed | BlobStatus::Finalized);
        let blob_header = record.blob.filter(|_| certified).map(|(c, _)| BlobHeader {
            storage_root: c.storage_root.to_vec(),
            epoch: c.epoch,
            quorum_id: c.quorum_id,
        });
        let mut reply = Response::new(BlobStatusReply {
            status: status as i32,
            info: Some(BlobInfo { blob_header }),
        });
        if status == BlobStatus::Failed {
            tracing::warn!(reason = %record.reason, "a FAILED request was asked for");
            // 0G's reply has no reason; zg's clients read it from this header.
            let ascii: String = record
                .reason
                .chars()
                .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
                .collect();
            if let Ok(value) = ascii.parse() {
                reply.metadata_mut().insert(FAILURE_REASON, value);
            }
        }
        Ok(reply)
    }

    async fn retrieve_blob(
        &self,
        request: Request<RetrieveBlobRequest>,
    ) -> Result<Response<RetrieveBlobReply>, Status> {
        let r = request.into_inner();
        let d = self.dispersals.clone();
        let data = blocking(move || d.retrieve(&r.storage_root, r.epoch, r.quorum_id)).await?;
        Ok(Response::new(RetrieveBlobReply { data }))
    }
}

/// Serves the disperser and the health service on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    dispersals: Arc<Dispersals>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<DisperserServer<Grpc>>().await;
    let disperser = DisperserServer::new(Grpc { dispersals })
        .max_decoding_message_size(MAX_DECODING)
        .max_encoding_message_size(MAX_ENCODING);
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(disperser)
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), shutdown)
        .await?;
    Ok(())
}
