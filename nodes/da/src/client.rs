//! The client side of zg's DA HTTP API: submit or disperse a payload to nodes, sample
//! and fetch it (what `zg da sample` does), and ask a quorum member to sign. Everything
//! a node returns is checked: commitments against the submission id, cells against
//! their proofs.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::StreamExt;
use zg_blob::da::{NodeId, SubmissionHeader, SubmissionId, encode_blob_record};
use zg_blob::{self as blob, CellWithProof, Submission};
use zg_kzg::{CELLS_PER_EXT_BLOB, KzgContext};

use crate::api::{CellJson, DaStatus, HeaderJson, Id, SignRequest, SignResponse, SubmissionInfo};

/// Blob uploads in flight at once while dispersing.
const IN_FLIGHT: usize = 4;

/// A connection to one DA node.
#[derive(Clone)]
pub struct DaClient {
    url: String,
    http: reqwest::Client,
}

impl DaClient {
    /// A client for the node at `url` (e.g. `http://127.0.0.1:34000`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn check(&self, response: reqwest::Result<reqwest::Response>) -> anyhow::Result<reqwest::Response> {
        let response = response.map_err(|e| {
            anyhow!(
                "DA node {} unreachable: {e} (is it running? start one with `zg-da` or `zg devnet`)",
                self.url
            )
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        bail!("DA node {} answered {status}: {}", self.url, body.trim())
    }

    /// The node's status (its key among it).
    pub async fn status(&self) -> anyhow::Result<DaStatus> {
        let r = self
            .check(self.http.get(format!("{}/status", self.url)).send().await)
            .await?;
        Ok(r.json().await?)
    }

    /// The node's public key.
    pub async fn node_id(&self) -> anyhow::Result<NodeId> {
        Ok(self.status().await?.node.0)
    }

    /// Posts a payload for the node to encode and store.
    pub async fn submit(&self, payload: Vec<u8>) -> anyhow::Result<SubmissionInfo> {
        let r = self
            .check(
                self.http
                    .post(format!("{}/submissions", self.url))
                    .body(payload)
                    .send()
                    .await,
            )
            .await?;
        Ok(r.json().await?)
    }

    /// Sends a submission encoded here: header, then every blob's cells.
    pub async fn disperse(&self, sub: &Submission) -> anyhow::Result<SubmissionInfo> {
        let header = SubmissionHeader::of(sub);
        let records = sub.blobs.iter().enumerate().map(|(b, blob)| {
            let cells: Vec<CellWithProof> = (0..CELLS_PER_EXT_BLOB)
                .map(|i| CellWithProof {
                    index: i as u64,
                    cell: blob.cells[i],
                    proof: blob.proofs[i],
                })
                .collect();
            std::future::ready(Ok((b, encode_blob_record(&cells))))
        });
        self.push(&header, records).await?;
        self.info(&header.id).await
    }

    /// Sends a header, then blob records (blob index, record) as they are made.
    pub async fn push<F>(
        &self,
        header: &SubmissionHeader,
        records: impl Iterator<Item = F>,
    ) -> anyhow::Result<()>
    where
        F: std::future::Future<Output = anyhow::Result<(usize, Vec<u8>)>>,
    {
        let id = Id::from(header.id);
        self.check(
            self.http
                .put(format!("{}/submissions/{id}", self.url))
                .json(&HeaderJson::of(header))
                .send()
                .await,
        )
        .await?;
        let mut uploads = futures_util::stream::iter(records.map(|record| async move {
            let (b, body) = record.await?;
            let url = format!("{}/submissions/{id}/blobs/{b}", self.url);
            self.check(self.http.put(url).body(body).send().await).await
        }))
        .buffer_unordered(IN_FLIGHT);
        while let Some(r) = uploads.next().await {
            r?;
        }
        Ok(())
    }

    /// Asks the node, a quorum member, to sign a 0G DA blob it was sent.
    pub async fn sign(&self, req: &SignRequest) -> anyhow::Result<SignResponse> {
        let r = self
            .check(
                self.http
                    .post(format!("{}/zerog/sign", self.url))
                    .json(req)
                    .send()
                    .await,
            )
            .await?;
        Ok(r.json().await?)
    }

    /// What the node holds of a submission.
    pub async fn info(&self, id: &SubmissionId) -> anyhow::Result<SubmissionInfo> {
        let r = self
            .check(
                self.http
                    .get(format!("{}/submissions/{}", self.url, Id::from(*id)))
                    .send()
                    .await,
            )
            .await?;
        Ok(r.json().await?)
    }

    /// The header of submission `id`, checked: its commitments must name `id`.
    pub async fn header(&self, id: &SubmissionId) -> anyhow::Result<SubmissionHeader> {
        let info = self.info(id).await?;
        let header = HeaderJson {
            payload_len: info.payload_len,
            commitments: info.commitments,
        }
        .parse()
        .map_err(|e| anyhow!("node {} sent a bad header: {e}", self.url))?;
        if header.id != *id {
            bail!("node {} sent commitments of another submission", self.url);
        }
        Ok(header)
    }

    /// One cell with its proof, verified against the header's commitment.
    pub async fn cell(
        &self,
        ctx: &KzgContext,
        header: &SubmissionHeader,
        blob: usize,
        index: u64,
    ) -> anyhow::Result<CellWithProof> {
        let url = format!(
            "{}/submissions/{}/blobs/{blob}/cells/{index}",
            self.url,
            Id::from(header.id)
        );
        let c: CellJson = self.check(self.http.get(url).send().await).await?.json().await?;
        let cell = CellWithProof {
            index: c.index,
            cell: c.cell.0,
            proof: c.proof.0,
        };
        if cell.index != index {
            bail!("node {} sent cell {} for cell {index}", self.url, cell.index);
        }
        let commitment = header
            .commitments
            .get(blob)
            .ok_or_else(|| anyhow!("blob {blob} out of range"))?;
        blob::verify_cells(ctx, blob, commitment, std::slice::from_ref(&cell))
            .with_context(|| format!("cell {index} of blob {blob} from {}", self.url))?;
        Ok(cell)
    }

    /// The payload, as the node rebuilds it.
    pub async fn payload(&self, id: &SubmissionId) -> anyhow::Result<Vec<u8>> {
        let r = self
            .check(
                self.http
                    .get(format!("{}/submissions/{}/payload", self.url, Id::from(*id)))
                    .send()
                    .await,
            )
            .await?;
        Ok(r.bytes().await?.to_vec())
    }
}

/// Reads and checks a whole payload: the node's bytes are re-encoded here and must
/// give the same commitments, hence the same id.
pub fn check_payload(ctx: &KzgContext, id: &SubmissionId, payload: &[u8]) -> anyhow::Result<()> {
    use rayon::prelude::*;
    let blobs = blob::pack(payload)?;
    let commitments = blobs
        .par_iter()
        .map(|b| ctx.blob_to_kzg_commitment(b))
        .collect::<Result<Vec<_>, _>>()?;
    if blob::submission_id(&commitments) != *id {
        bail!("the payload does not match submission {}", Id::from(*id));
    }
    Ok(())
}

/// Submits `payload` to every node over zg's HTTP API and checks that each holds its
/// custody of every blob, under the same commitments. One node and `encode_locally`
/// false: the node encodes. Otherwise the payload is encoded here once and dispersed
/// to each node, which checks every cell before it stores it. (What nodes vouch for on
/// chain goes through 0G's disperser API: [`crate::disperser_client`].)
pub async fn submit(
    nodes: &[DaClient],
    payload: Vec<u8>,
    encode_locally: bool,
) -> anyhow::Result<SubmissionHeader> {
    if nodes.is_empty() {
        bail!("no DA node given");
    }
    if payload.len() > blob::MAX_PAYLOAD {
        bail!(
            "payload of {} bytes exceeds a submission's maximum of {} bytes; split it",
            payload.len(),
            blob::MAX_PAYLOAD
        );
    }
    let infos: Vec<SubmissionInfo> = if nodes.len() == 1 && !encode_locally {
        vec![nodes[0].submit(payload).await?]
    } else {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message(format!("encoding {} blobs", blob::blob_count(payload.len())));
        spinner.enable_steady_tick(Duration::from_millis(200));
        let sub =
            tokio::task::spawn_blocking(move || blob::encode(KzgContext::ethereum(), &payload)).await??;
        spinner.set_message(format!("dispersing to {} nodes", nodes.len()));
        let infos = futures_util::future::try_join_all(nodes.iter().map(|n| n.disperse(&sub))).await?;
        spinner.finish_and_clear();
        infos
    };
    let header = HeaderJson {
        payload_len: infos[0].payload_len,
        commitments: infos[0].commitments.clone(),
    }
    .parse()
    .map_err(|e| anyhow!("node {} sent a bad header: {e}", nodes[0].url()))?;
    for (node, info) in nodes.iter().zip(&infos) {
        if info.commitments != infos[0].commitments || info.payload_len != header.payload_len {
            bail!(
                "node {} committed to other blobs than node {}",
                node.url(),
                nodes[0].url()
            );
        }
        if !info.custody_held {
            bail!("node {} does not hold its custody of every blob", node.url());
        }
    }
    Ok(header)
}

/// Fetches `samples` random cells of submission `id` from `node` (among the cells its
/// custody holds), each checked against its commitment; returns how many were
/// verified (all of them, or an error).
pub async fn sample(node: &DaClient, id: &SubmissionId, samples: usize) -> anyhow::Result<usize> {
    let ctx = KzgContext::ethereum();
    let header = node.header(id).await?;
    let custody = node.status().await?.custody;
    if custody.is_empty() {
        bail!("node {} keeps no cells", node.url());
    }
    let picks: Vec<(usize, u64)> = (0..samples)
        .map(|_| {
            (
                rand::random_range(0..header.blob_count()),
                custody[rand::random_range(0..custody.len())],
            )
        })
        .collect();
    let checks = picks.iter().map(|&(b, i)| node.cell(ctx, &header, b, i));
    let cells = futures_util::future::try_join_all(checks).await?;
    Ok(cells.len())
}
