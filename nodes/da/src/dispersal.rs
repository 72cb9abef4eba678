//! 0G's disperser flow on a zg DA node, apart from its gRPC transport: a blob is taken
//! durably under 0G's request id, then encoded by zg's pipeline (cells, KZG proofs, the
//! node's attestation) and given 0G's storage root in the background; its status only
//! moves forward (PROCESSING → CONFIRMED → FINALIZED, or FAILED) and survives restarts;
//! the exact bytes are served back by (storage root, epoch, quorum id).
//!
//! On a node that follows a chain, a blob's root is uploaded to DAEntrance (its
//! `DataUpload` gives the epoch and quorum), the quorum signs it (see [`crate::signing`]),
//! and the certificate is submitted: CONFIRMED when that transaction is mined,
//! FINALIZED when its block is final. Each step is recorded before the next, so a
//! restart resumes where it stopped and never pays for an upload twice. A node
//! without a chain places every blob in epoch 0, quorum 0, CONFIRMED once stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zg_blob::da::{DaError, SubmissionId};
use zg_blob::zerog::{self, BlobCoords, DispersalRecord as Record, DispersalStatus as Status};
use zg_node::chain::ChainError;
use zg_store::{Put, StoreError};

use crate::service::{DaService, off_thread};
use crate::signing::{self, SignError};

/// Why a disperser call is refused; the texts are 0G's where 0G has one.
#[derive(Debug, thiserror::Error)]
pub enum DisperseError {
    /// An empty blob.
    #[error("blob size must be greater than 0")]
    Empty,
    /// Over 32,505,852 bytes.
    #[error("blob size cannot exceed 31744 KiB")]
    TooLarge,
    /// No request id.
    #[error("invalid request: request_id must not be empty")]
    EmptyId,
    /// Not `<hash>-<hash>`.
    #[error("invalid metadata key: {0}")]
    BadId(String),
    /// No such request.
    #[error("failed to retrieve blob status: disperse failed or request may not exist")]
    UnknownId,
    /// A storage root that is not 32 bytes.
    #[error("parameter StorageRoot len is not accepted")]
    RootLength,
    /// No confirmed blob at these coordinates.
    #[error(
        "blob not found: no confirmed blob with storage root 0x{root} in epoch {epoch}, quorum {quorum_id}"
    )]
    NotFound {
        /// The root asked, hex.
        root: String,
        /// The epoch asked.
        epoch: u64,
        /// The quorum asked.
        quorum_id: u64,
    },
    /// The node's store or pipeline failed.
    #[error(transparent)]
    Da(#[from] DaError),
    /// The chain refused the upload or the certificate, or the quorum did not sign.
    #[error(transparent)]
    Sign(#[from] SignError),
}

impl From<StoreError> for DisperseError {
    fn from(e: StoreError) -> Self {
        Self::Da(DaError::Store(e))
    }
}

/// 0G's request id: `hex(sha256(data))-hex("<ns>/" ‖ sha256(""))`, ASCII (0G's Go code
/// appends the empty input's digest where it meant to hash; 0G-DA-WIRE.md §1.1).
pub fn request_id(data: &[u8], requested_ns: u128) -> String {
    let mut meta = format!("{requested_ns}/").into_bytes();
    meta.extend_from_slice(&Sha256::digest([]));
    format!("{}-{}", hex::encode(Sha256::digest(data)), hex::encode(meta))
}

/// Checks a request id's shape as 0G does: exactly two parts around one `-`.
fn parse_id(id: &[u8]) -> Result<&[u8], DisperseError> {
    if id.is_empty() {
        return Err(DisperseError::EmptyId);
    }
    let text = String::from_utf8_lossy(id);
    if text.split('-').count() != 2 || id.len() > 1024 {
        return Err(DisperseError::BadId(text.chars().take(200).collect()));
    }
    Ok(id)
}

fn key(domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    for p in parts {
        h.update(p);
    }
    *h.finalize().as_bytes()
}

fn record_key(id: &[u8]) -> [u8; 32] {
    key(b"zg-da/0g-request\0", &[id])
}

fn data_key(id: &[u8]) -> [u8; 32] {
    key(b"zg-da/0g-data\0", &[id])
}

fn blob_key(c: &BlobCoords) -> [u8; 32] {
    key(
        b"zg-da/0g-blob\0",
        &[
            &c.storage_root,
            &c.epoch.to_le_bytes(),
            &c.quorum_id.to_le_bytes(),
        ],
    )
}

/// Every request in arrival order, one segment each: what a restart resumes from.
fn journal_key() -> [u8; 32] {
    key(b"zg-da/0g-journal", &[])
}

/// Bytes of a blob per stored segment.
const DATA_CHUNK: usize = 4 << 20;

/// The dispersals a node runs.
pub struct Dispersals {
    node: Arc<DaService>,
    queue: mpsc::UnboundedSender<Vec<u8>>,
    next: AtomicU64,
}

impl Dispersals {
    /// Starts the background pipeline and resumes every request a restart left
    /// unfinished.
    pub(crate) fn start(node: Arc<DaService>) -> Result<Arc<Self>, DisperseError> {
        let store = node.da.store();
        let journal = store.segment_indices(&journal_key());
        let next = journal.iter().max().map_or(0, |n| n + 1);
        let (queue, mut work) = mpsc::unbounded_channel::<Vec<u8>>();
        for seq in journal {
            let id = store.get(&journal_key(), seq)?.to_vec();
            if let Some(r) = read_record(&node, &id)?
                && matches!(r.status, Status::Processing | Status::Confirmed)
            {
                tracing::info!(request = %String::from_utf8_lossy(&id), "resuming a dispersal");
                let _ = queue.send(id);
            }
        }
        let worker = node.clone();
        tokio::spawn(async move {
            while let Some(id) = work.recv().await {
                let shown = String::from_utf8_lossy(&id).into_owned();
                if let Err(e) = advance(&worker, &id).await {
                    tracing::error!(request = %shown, error = %e, "dispersal failed");
                }
            }
        });
        Ok(Arc::new(Self {
            node,
            queue,
            next: AtomicU64::new(next),
        }))
    }

    /// Takes a blob: durable before it answers, with 0G's request id.
    pub fn disperse(&self, data: Vec<u8>) -> Result<String, DisperseError> {
        if data.is_empty() {
            return Err(DisperseError::Empty);
        }
        if data.len() > zerog::MAX_DATA {
            return Err(DisperseError::TooLarge);
        }
        let ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let id = request_id(&data, ns);
        let record = Record {
            status: Status::Processing,
            data_len: data.len() as u64,
            blob: None,
            reason: String::new(),
            block: 0,
        };
        let dk = data_key(id.as_bytes());
        // Segments are slices of the request's own buffer: a 31 MiB blob is not copied.
        let data = bytes::Bytes::from(data);
        let mut puts: Vec<Put> = (0..data.len())
            .step_by(DATA_CHUNK)
            .enumerate()
            .map(|(i, at)| Put::segment(dk, i as u64, data.slice(at..data.len().min(at + DATA_CHUNK))))
            .collect();
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        puts.push(Put::segment(journal_key(), seq, id.clone().into_bytes()));
        // The record last: once it is visible, so are the bytes.
        puts.push(Put::meta(record_key(id.as_bytes()), record.encode()));
        self.node.da.store().put_batch(puts)?;
        let _ = self.queue.send(id.clone().into_bytes());
        Ok(id)
    }

    /// A request's record.
    pub fn status(&self, id: &[u8]) -> Result<Record, DisperseError> {
        let id = parse_id(id)?;
        read_record(&self.node, id)?.ok_or(DisperseError::UnknownId)
    }

    /// The exact bytes of the blob at `coords`, from CONFIRMED on.
    pub fn retrieve(
        &self,
        storage_root: &[u8],
        epoch: u64,
        quorum_id: u64,
    ) -> Result<Vec<u8>, DisperseError> {
        let storage_root: [u8; 32] = storage_root.try_into().map_err(|_| DisperseError::RootLength)?;
        let coords = BlobCoords {
            storage_root,
            epoch,
            quorum_id,
        };
        let not_found = || DisperseError::NotFound {
            root: hex::encode(storage_root),
            epoch,
            quorum_id,
        };
        let id = match self.node.da.store().get_meta(&blob_key(&coords)) {
            Ok(seg) => seg.to_vec(),
            Err(StoreError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let Some(Record {
            blob: Some((_, submission)),
            data_len,
            status: Status::Confirmed | Status::Finalized,
            ..
        }) = read_record(&self.node, &id)?
        else {
            return Err(not_found());
        };
        let data = self.node.payload(&submission)?;
        if data.len() as u64 != data_len {
            return Err(DisperseError::Da(DaError::Mismatch {
                id: String::from_utf8_lossy(&id).into_owned(),
                reason: format!("the payload has {} bytes, the request {data_len}", data.len()),
            }));
        }
        Ok(data)
    }
}

fn read_record(node: &DaService, id: &[u8]) -> Result<Option<Record>, DisperseError> {
    match node.da.store().get_meta(&record_key(id)) {
        Ok(seg) => Record::decode(&seg).map(Some).map_err(|reason| {
            DisperseError::Da(DaError::Malformed {
                what: "dispersal record",
                reason,
            })
        }),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn write_record(node: &DaService, id: &[u8], record: &Record, also: Vec<Put>) -> Result<(), DisperseError> {
    let mut puts = also;
    puts.push(Put::meta(record_key(id), record.encode()));
    node.da.store().put_batch(puts)?;
    Ok(())
}

/// Runs blocking store or encoding work off the async threads.
async fn blocking<T: Send + 'static>(
    node: &Arc<DaService>,
    f: impl FnOnce(&DaService) -> Result<T, DisperseError> + Send + 'static,
) -> Result<T, DisperseError> {
    off_thread(node, "dispersal task", f).await
}

/// Tries a chain step again while the chain does not answer (a restart of the chain
/// node, a busy moment), at most `TRIES` times a second apart.
async fn retrying<T, F: std::future::Future<Output = Result<T, SignError>>>(
    mut step: impl FnMut() -> F,
) -> Result<T, SignError> {
    const TRIES: usize = 30;
    for _ in 1..TRIES {
        match step().await {
            Err(SignError::Chain(ChainError::Unreachable { error, .. })) => {
                tracing::warn!(%error, "the chain did not answer; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
    step().await
}

/// Moves one request as far forward as it goes: PROCESSING → (encoded, rooted,
/// uploaded) → CONFIRMED (certified) → FINALIZED, or FAILED with the reason.
async fn advance(node: &Arc<DaService>, id: &[u8]) -> Result<(), DisperseError> {
    let owned = id.to_vec();
    let Some(mut record) = blocking(node, move |n| read_record(n, &owned)).await? else {
        return Err(DisperseError::UnknownId);
    };
    let step = forward(node, id, &mut record).await;
    if let Err(e) = step {
        record.status = Status::Failed;
        record.reason = e.to_string();
        let owned = id.to_vec();
        blocking(node, move |n| {
            write_record(n, &owned, &record, Vec::new())?;
            n.da.store().delete(data_key(&owned))?;
            Ok(())
        })
        .await?;
        return Err(e);
    }
    Ok(())
}

/// The steps of [`advance`], each recorded before the next.
async fn forward(node: &Arc<DaService>, id: &[u8], record: &mut Record) -> Result<(), DisperseError> {
    let save = |record: &Record, also: Vec<Put>| {
        let (owned, record) = (id.to_vec(), record.clone());
        blocking(node, move |n| write_record(n, &owned, &record, also))
    };
    if record.status == Status::Processing && record.blob.is_none() {
        let (owned, r) = (id.to_vec(), record.clone());
        let (storage_root, submission) = blocking(node, move |n| encode(n, &owned, &r)).await?;
        node.remember_root(submission, storage_root);
        match &node.chain {
            Some(chain) => {
                let (coords, block) = retrying(|| async { Ok(chain.upload(storage_root).await?) }).await?;
                tracing::info!(
                    epoch = coords.epoch,
                    quorum = coords.quorum_id,
                    block,
                    "blob root uploaded"
                );
                record.blob = Some((coords, submission));
                record.block = block;
                save(record, Vec::new()).await?;
            }
            None => {
                let coords = BlobCoords {
                    storage_root,
                    epoch: 0,
                    quorum_id: 0,
                };
                record.status = Status::Confirmed;
                record.blob = Some((coords, submission));
                save(record, vec![Put::meta(blob_key(&coords), id.to_vec())]).await?;
            }
        }
    }
    if record.status == Status::Processing
        && let Some((coords, submission)) = record.blob
    {
        let upload = record.block;
        let block = retrying(|| signing::certify(node, submission, coords, upload)).await?;
        tracing::info!(
            epoch = coords.epoch,
            quorum = coords.quorum_id,
            block,
            "blob certified"
        );
        record.status = Status::Confirmed;
        record.block = block;
        save(record, vec![Put::meta(blob_key(&coords), id.to_vec())]).await?;
    }
    if record.status == Status::Confirmed {
        if let Some(chain) = &node.chain {
            // FINALIZED once the certificate's block is final.
            loop {
                match chain.finalized().await {
                    Ok(f) if f >= record.block => break,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "reading the final block"),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        record.status = Status::Finalized;
        save(record, Vec::new()).await?;
        let owned = id.to_vec();
        blocking(node, move |n| Ok(n.da.store().delete(data_key(&owned))?)).await?;
    }
    Ok(())
}

/// Encodes the blob with zg's pipeline and computes 0G's root.
fn encode(node: &DaService, id: &[u8], record: &Record) -> Result<([u8; 32], SubmissionId), DisperseError> {
    let dk = data_key(id);
    let chunks = record.data_len.div_ceil(DATA_CHUNK as u64);
    let wanted: Vec<([u8; 32], u64)> = (0..chunks).map(|i| (dk, i)).collect();
    let mut data = Vec::with_capacity(record.data_len as usize);
    for seg in node.da.store().get_many(&wanted) {
        data.extend_from_slice(&seg?);
    }
    if data.len() as u64 != record.data_len {
        return Err(DisperseError::Da(DaError::Mismatch {
            id: String::from_utf8_lossy(id).into_owned(),
            reason: format!("{} bytes stored of {}", data.len(), record.data_len),
        }));
    }
    let info = node.submit(&data)?;
    let storage_root = zerog::storage_root(&data).map_err(|e| {
        DisperseError::Da(DaError::Malformed {
            what: "blob",
            reason: e.to_string(),
        })
    })?;
    Ok((storage_root, info.id.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_have_0gs_shape() {
        // 0G-DA-WIRE.md's example: "hello" at 1718000000123456789 ns.
        let id = request_id(b"hello", 1_718_000_000_123_456_789);
        assert_eq!(id.len(), 169);
        assert!(id.starts_with("2cf24dba"), "{id}");
        assert!(
            id.contains("938b9824-313731383030303030303132333435363738392fe3b0c442"),
            "{id}"
        );
        assert!(id.ends_with("7852b855"), "{id}");
        assert!(id.is_ascii() && id.split('-').count() == 2);
        assert!(parse_id(id.as_bytes()).is_ok());
        assert!(matches!(parse_id(b""), Err(DisperseError::EmptyId)));
        assert!(matches!(parse_id(b"a-b-c"), Err(DisperseError::BadId(_))));
        assert!(matches!(parse_id(b"nodash"), Err(DisperseError::BadId(_))));
    }
}
