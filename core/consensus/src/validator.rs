//! A validator: Malachite decides, this module answers it. The proposer builds a
//! block from the pending transactions and streams it in signed parts; every other
//! validator collects the parts, checks the proposer's signature and re-executes the
//! block before it votes; a decided block is committed with its certificate (fsync
//! before anyone sees it); a node that was away catches up through value sync,
//! re-executing every block it is sent.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_consensus::TxEnvelope;
use alloy_consensus::transaction::Recovered;
use alloy_primitives::{Address, B256};
use arc_malachitebft_app_channel::app::config::{ConsensusConfig, NodeConfig, P2pConfig, ValueSyncConfig};
use arc_malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use arc_malachitebft_app_channel::app::engine::util::streaming::StreamContent;
use arc_malachitebft_app_channel::app::net::Multiaddr;
use arc_malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, LinearTimeouts, Round, Validity,
};
use arc_malachitebft_app_channel::app::types::sync::RawDecidedValue;
use arc_malachitebft_app_channel::app::types::{Keypair, LocallyProposedValue, PeerId, ProposedValue};
use arc_malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkMsg,
    RequestContext, Signer, SyncContext, WalContext,
};
use bytes::Bytes;
use zg_evm::{Chain, Proposal as BlockProposal, SealedBlock};

use crate::codec::{WireCodec, decode_commit_certificate, encode_commit_certificate, parts_sign_bytes};
use crate::signing::{ValidatorKey, ZgVerifier};
use crate::types::{BlockId, Height, ProposalPart, ValidatorAddress, ValidatorSet, ZgContext};

/// Bytes of a proposed block per [`ProposalPart::Data`].
const CHUNK_BYTES: usize = 128 * 1024;
/// Most transactions a proposer puts in one block.
const MAX_BLOCK_TXS: usize = 4096;
/// Proposal streams held at once (a peer cannot fill memory with unfinished ones).
const MAX_OPEN_STREAMS: usize = 64;
/// Most parts in one stream: a whole block in chunks, with its init and fin.
const MAX_STREAM_PARTS: usize = zg_evm::MAX_RECORD / CHUNK_BYTES + 3;

/// What a validator needs from the node it runs in: the chain (decided blocks are
/// committed to it) and the pending transactions.
pub trait Host: Send + Sync + 'static {
    /// The chain; validation and commits take its write lock.
    fn chain(&self) -> &RwLock<Chain>;
    /// Up to `max` pending transactions, in the order a block should take them.
    fn pending(&self, max: usize) -> Vec<Recovered<TxEnvelope>>;
    /// Block `number` was committed: its transactions leave the pool.
    fn committed(&self, number: u64);
    /// The sender of pending transaction `hash`, recovered when it joined the pool
    /// (a validator then skips recovering it again in a proposal).
    fn sender_of(&self, hash: &B256) -> Option<Address> {
        let _ = hash;
        None
    }
    /// Notified (`notify_one`) when a transaction joins the pool: an idle chain
    /// starts its next height at once.
    fn arrivals(&self) -> &tokio::sync::Notify;
}

/// How a validator starts.
#[derive(Clone, Debug)]
pub struct ValidatorConfig {
    /// Name in logs and in peers' views.
    pub moniker: String,
    /// The chain's id.
    pub chain_id: u64,
    /// Its consensus key (must be in `validators`); `None`: a follower, which
    /// re-executes and commits every decided block but never proposes or votes.
    pub key: Option<ValidatorKey>,
    /// The ed25519 secret of its network identity (libp2p peer id).
    pub network_secret: [u8; 32],
    /// Where the engine's write-ahead log lives.
    pub wal_dir: PathBuf,
    /// Consensus p2p address, e.g. `/ip4/127.0.0.1/tcp/26656`.
    pub listen: Multiaddr,
    /// The other validators' consensus addresses.
    pub peers: Vec<Multiaddr>,
    /// The validator set (fixed from genesis).
    pub validators: ValidatorSet,
    /// Propose, prevote and precommit timeouts.
    pub timeouts: LinearTimeouts,
    /// The longest an idle chain waits before its next height (empty blocks come at
    /// this pace). A transaction joining the pool, a last block that carried
    /// transactions, or a peer's proposal for the next height starts it at once, so a
    /// transaction waits for one round of votes, not for a block time.
    pub block_time: Duration,
    /// Fee recipient of the blocks it proposes.
    pub coinbase: Address,
    /// Test-only: propose blocks whose header lies (a wrong state root, marked
    /// [`INVALID_MARK`] in its extra data), for tests of a Byzantine proposer.
    pub propose_invalid: bool,
}

/// The extra data of the lying blocks a `propose_invalid` validator proposes.
pub const INVALID_MARK: &[u8] = b"zg-test-invalid-proposal";

/// Why a validator did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The key is not one of the validators'.
    #[error("validator key {0} is not in the validator set")]
    NotAValidator(ValidatorAddress),
    /// The network secret is not an ed25519 key.
    #[error("network key: {0}")]
    NetworkKey(String),
    /// The engine refused to start.
    #[error("consensus engine: {0}")]
    Engine(String),
}

// The engine's configuration, as Malachite's NodeConfig asks for it.
#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// A running validator: the engine and the task answering it.
pub struct RunningValidator {
    /// The engine (its actors and their task).
    pub engine: EngineHandle,
    /// The task answering the engine; ends when the engine stops.
    pub app: tokio::task::JoinHandle<()>,
}

/// Starts the engine and the task that answers it, on the current tokio runtime.
pub async fn start(config: ValidatorConfig, host: Arc<dyn Host>) -> Result<RunningValidator, StartError> {
    use arc_malachitebft_app_channel::app::types::core::ValidatorSet as _;
    let ctx = ZgContext::new(config.chain_id);
    let keypair = Keypair::ed25519_from_bytes(config.network_secret)
        .map_err(|e| StartError::NetworkKey(e.to_string()))?;
    let verifier = Box::new(ZgVerifier::new(config.chain_id));
    let (address, identity, consensus) = match &config.key {
        Some(key) => {
            let address = key.address();
            if config.validators.get_by_address(&address).is_none() {
                return Err(StartError::NotAValidator(address));
            }
            let peer_id = keypair.public().to_peer_id().to_bytes();
            let proof = key
                .sign_validator_proof(key.public_key().as_bytes().to_vec(), peer_id)
                .await
                .map_err(|e| StartError::Engine(format!("signing the validator proof: {e}")))?;
            let proof = WireCodec
                .encode(&proof)
                .map_err(|e| StartError::Engine(e.to_string()))?;
            let identity =
                NetworkIdentity::new_validator(config.moniker.clone(), keypair, address.to_string(), proof);
            let consensus = ConsensusContext::new_validator(address, verifier, Box::new(key.clone()));
            (address, identity, consensus)
        }
        None => {
            // A follower's address names it in logs only: it is in no validator set.
            let address = ValidatorAddress::of_key_bytes(&keypair.public().encode_protobuf());
            if config.validators.get_by_address(&address).is_some() {
                return Err(StartError::Engine("a follower's address is a validator's".into()));
            }
            let identity = NetworkIdentity::new(config.moniker.clone(), keypair, None);
            (
                address,
                identity,
                ConsensusContext::new_full_node(address, verifier),
            )
        }
    };
    let engine_config = EngineConfig {
        moniker: config.moniker.clone(),
        consensus: ConsensusConfig {
            p2p: P2pConfig {
                listen_addr: config.listen.clone(),
                persistent_peers: config.peers.clone(),
                ..P2pConfig::default()
            },
            ..ConsensusConfig::default()
        },
        value_sync: ValueSyncConfig {
            status_update_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ..ValueSyncConfig::default()
        },
    };
    let (channels, engine) = arc_malachitebft_app_channel::start_engine(
        ctx,
        engine_config,
        WalContext::new(config.wal_dir.join("consensus.wal"), WireCodec),
        NetworkContext::new(identity, WireCodec),
        consensus,
        SyncContext::new(WireCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| StartError::Engine(e.to_string()))?;
    let app = App {
        ctx,
        address,
        config,
        host,
        blocks: HashMap::new(),
        seen: HashMap::new(),
        streams: HashMap::new(),
        stream_order: Vec::new(),
        next_stream: 0,
        idle: None,
        busy: false,
    };
    let app = tokio::spawn(app.run(channels));
    Ok(RunningValidator { engine, app })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// Parts of one proposal as they arrive, in any order.
#[derive(Default)]
struct PartStream {
    parts: BTreeMap<u64, ProposalPart>,
    // Sequence number of the stream's end marker, once seen.
    end: Option<u64>,
    bytes: usize,
}

struct App {
    ctx: ZgContext,
    address: ValidatorAddress,
    config: ValidatorConfig,
    host: Arc<dyn Host>,
    // Blocks built or validated for the next height, by hash.
    blocks: HashMap<B256, SealedBlock>,
    // Values seen per (height, round), for the engine after a restart of a round.
    seen: HashMap<(u64, u32), ProposedValue<ZgContext>>,
    streams: HashMap<(PeerId, StreamId), PartStream>,
    stream_order: Vec<(PeerId, StreamId)>,
    next_stream: u64,
    // The engine's request to start the next height, held while the chain is idle.
    idle: Option<IdleStart>,
    // Whether the last committed block carried transactions (more may be waiting).
    busy: bool,
}

// A held `Next::Start`: answered when work arrives or at `until`.
struct IdleStart {
    reply: arc_malachitebft_app_channel::Reply<Next<ZgContext>>,
    height: Height,
    until: tokio::time::Instant,
}

impl App {
    fn chain_read(&self) -> std::sync::RwLockReadGuard<'_, Chain> {
        self.host
            .chain()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn chain_write(&self) -> std::sync::RwLockWriteGuard<'_, Chain> {
        self.host
            .chain()
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn next_height(&self) -> Height {
        Height(self.chain_read().head().header.number + 1)
    }

    fn params(&self) -> HeightParams<ZgContext> {
        // The app paces heights itself (IdleStart), so the engine adds no wait.
        HeightParams::new(self.config.validators.clone(), self.config.timeouts, None)
    }

    async fn run(mut self, mut channels: Channels<ZgContext>) {
        let host = self.host.clone();
        loop {
            let until = self.idle.as_ref().map(|idle| idle.until);
            tokio::select! {
                message = channels.consensus.recv() => match message {
                    Some(message) => self.handle(message, &channels).await,
                    None => break,
                },
                () = host.arrivals().notified(), if until.is_some() => self.start_next("a transaction arrived"),
                () = tokio::time::sleep_until(until.unwrap_or_else(tokio::time::Instant::now)), if until.is_some() => {
                    self.start_next("block time");
                }
            }
        }
        tracing::info!(moniker = %self.config.moniker, "consensus engine stopped");
    }

    // Answers the held request to start the next height.
    fn start_next(&mut self, why: &'static str) {
        if let Some(idle) = self.idle.take() {
            tracing::debug!(height = %idle.height, why, "starting the next height");
            let _ = idle.reply.send(Next::Start(idle.height, self.params()));
        }
    }

    async fn handle(&mut self, message: AppMsg<ZgContext>, channels: &Channels<ZgContext>) {
        match message {
            AppMsg::ConsensusReady { reply } => {
                let height = self.next_height();
                tracing::info!(%height, "consensus ready");
                let _ = reply.send((height, self.params()));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                tracing::debug!(%height, %round, %proposer, ?role, "round started");
                let seen = round
                    .as_u32()
                    .and_then(|r| self.seen.get(&(height.0, r)).cloned())
                    .into_iter()
                    .collect();
                let _ = reply_value.send(seen);
            }
            AppMsg::GetValue {
                height, round, reply, ..
            } => {
                match self.propose(height, round) {
                    Ok((value, parts)) => {
                        let _ = reply.send(value);
                        self.publish(parts, height, round, channels).await;
                    }
                    // No reply: the round times out and moves to the next proposer.
                    Err(error) => tracing::error!(%height, %round, %error, "could not build a block"),
                }
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let value = self.receive_part(published_by.unwrap_or(from), part);
                if value.is_some() {
                    // A peer proposed the next height: it is not idle.
                    self.start_next("a peer proposed");
                }
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.commit(&certificate);
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let head = self.chain_read().head().header.number;
                if head < certificate.height.0 {
                    tracing::error!(height = %certificate.height, "decided block was not committed; restarting the height");
                    let _ = reply.send(Next::Restart(certificate.height, self.params()));
                } else if self.busy || self.config.key.is_none() {
                    // More transactions may wait; a follower never holds the validators up.
                    let _ = reply.send(Next::Start(Height(head + 1), self.params()));
                } else {
                    self.idle = Some(IdleStart {
                        reply,
                        height: Height(head + 1),
                        until: tokio::time::Instant::now() + self.config.block_time,
                    });
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(*range.start(), *range.end()));
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let _ = reply.send(self.synced(height, round, proposer, &value_bytes));
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                // Only the proposer can sign the parts again.
                if address == self.address
                    && let Some(block) = self.blocks.get(&value_id.0)
                    && let Some(parts) = self.parts_of(&block.proposal(), height, round, valid_round)
                {
                    self.publish(parts, height, round, channels).await;
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // Extensions are disabled; any that arrive are accepted as empty.
                let _ = reply.send(
                    extensions
                        .into_iter()
                        .map(|(address, _)| (address, Ok(())))
                        .collect(),
                );
            }
        }
    }

    // Builds the next block from the pending transactions and its signed parts.
    fn propose(
        &mut self,
        height: Height,
        round: Round,
    ) -> Result<(LocallyProposedValue<ZgContext>, Vec<ProposalPart>), String> {
        if self.config.key.is_none() {
            return Err("a follower does not propose".into());
        }
        let txs = self.host.pending(MAX_BLOCK_TXS);
        let built = self
            .chain_write()
            .build_block(txs, now_secs(), self.config.coinbase)
            .map_err(|e| e.to_string())?;
        let block = built.block;
        tracing::info!(%height, %round, hash = %block.hash(), txs = block.transactions().len(), "proposing");
        let mut proposal = block.proposal();
        if self.config.propose_invalid {
            proposal.header.state_root = B256::repeat_byte(0xbd);
            proposal.header.extra_data = INVALID_MARK.into();
            tracing::warn!(%height, %round, "test switch: proposing a block with a false state root");
        }
        let parts = self
            .parts_of(&proposal, height, round, Round::Nil)
            .ok_or("a follower does not propose")?;
        let value = BlockId(proposal.hash());
        self.remember(height, round, Round::Nil, self.address, value, Validity::Valid);
        self.blocks.insert(block.hash(), block);
        Ok((LocallyProposedValue::new(height, round, value), parts))
    }

    // Init, the block's bytes in chunks, and the proposer's signature over them.
    fn parts_of(
        &self,
        proposal: &BlockProposal,
        height: Height,
        round: Round,
        pol_round: Round,
    ) -> Option<Vec<ProposalPart>> {
        let bytes = Bytes::from(proposal.to_bytes());
        let init = ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer: self.address,
        };
        let chunks: Vec<Bytes> = (0..bytes.len())
            .step_by(CHUNK_BYTES)
            .map(|at| bytes.slice(at..(at + CHUNK_BYTES).min(bytes.len())))
            .collect();
        let key = self.config.key.as_ref()?;
        let signature = key.sign(&parts_sign_bytes(self.config.chain_id, &init, &chunks));
        let mut parts = vec![init];
        parts.extend(chunks.into_iter().map(ProposalPart::Data));
        parts.push(ProposalPart::Fin(signature));
        Some(parts)
    }

    async fn publish(
        &mut self,
        parts: Vec<ProposalPart>,
        height: Height,
        round: Round,
        channels: &Channels<ZgContext>,
    ) {
        let mut id = Vec::with_capacity(24);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_u32().unwrap_or(u32::MAX).to_be_bytes());
        id.extend_from_slice(&self.next_stream.to_be_bytes());
        self.next_stream += 1;
        let stream_id = StreamId::new(Bytes::from(id));
        let count = parts.len() as u64;
        let messages = parts
            .into_iter()
            .enumerate()
            .map(|(sequence, part)| {
                StreamMessage::new(stream_id.clone(), sequence as u64, StreamContent::Data(part))
            })
            .chain(std::iter::once(StreamMessage::new(
                stream_id.clone(),
                count,
                StreamContent::Fin,
            )));
        for message in messages {
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(message))
                .await
                .is_err()
            {
                tracing::warn!("network channel closed while publishing a proposal");
                return;
            }
        }
    }

    fn remember(
        &mut self,
        height: Height,
        round: Round,
        valid_round: Round,
        proposer: ValidatorAddress,
        value: BlockId,
        validity: Validity,
    ) {
        if let Some(r) = round.as_u32() {
            self.seen.insert(
                (height.0, r),
                ProposedValue {
                    height,
                    round,
                    valid_round,
                    proposer,
                    value,
                    validity,
                },
            );
        }
    }

    // Adds a part to its stream; when the stream is whole, checks and re-executes it.
    fn receive_part(
        &mut self,
        publisher: PeerId,
        message: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<ZgContext>> {
        let key = (publisher, message.stream_id.clone());
        if !self.streams.contains_key(&key) {
            if self.stream_order.len() >= MAX_OPEN_STREAMS {
                let oldest = self.stream_order.remove(0);
                self.streams.remove(&oldest);
            }
            self.stream_order.push(key.clone());
        }
        let stream = self.streams.entry(key.clone()).or_default();
        match message.content {
            StreamContent::Data(part) => {
                if let ProposalPart::Data(chunk) = &part {
                    stream.bytes += chunk.len();
                }
                stream.parts.insert(message.sequence, part);
            }
            StreamContent::Fin => stream.end = Some(message.sequence),
        }
        if stream.bytes > zg_evm::MAX_RECORD || stream.parts.len() > MAX_STREAM_PARTS {
            tracing::warn!(%publisher, "proposal stream over the block size limit; dropped");
            self.drop_stream(&key);
            return None;
        }
        let end = stream.end?;
        if stream.parts.len() as u64 != end {
            return None;
        }
        let stream = self.drop_stream(&key)?;
        let parts: Vec<ProposalPart> = stream.parts.into_values().collect();
        let value = self.check_stream(&parts);
        if let Err(reason) = &value {
            tracing::warn!(%publisher, %reason, "proposal refused");
        }
        value.ok()
    }

    fn drop_stream(&mut self, key: &(PeerId, StreamId)) -> Option<PartStream> {
        self.stream_order.retain(|k| k != key);
        self.streams.remove(key)
    }

    // A whole stream: init first, data, the proposer's signature last; then the
    // block is re-executed. An invalid block is reported as such (validators vote nil).
    fn check_stream(&mut self, parts: &[ProposalPart]) -> Result<ProposedValue<ZgContext>, String> {
        use arc_malachitebft_app_channel::app::types::core::ValidatorSet as _;
        let [
            init @ ProposalPart::Init { .. },
            chunks @ ..,
            ProposalPart::Fin(signature),
        ] = parts
        else {
            return Err("parts are not init, data, fin".into());
        };
        let ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        } = *init
        else {
            return Err("no init part".into());
        };
        let chunks: Vec<Bytes> = chunks
            .iter()
            .map(|part| match part {
                ProposalPart::Data(chunk) => Ok(chunk.clone()),
                _ => Err("a part between init and fin is not data"),
            })
            .collect::<Result<_, _>>()?;
        // The cheap checks before the signature's.
        let expected = self.ctx_proposer(height, round);
        if expected != Some(proposer) {
            return Err(format!(
                "{proposer} is not the proposer of height {height} round {round}"
            ));
        }
        let next = self.next_height();
        if height != next {
            return Err(format!("proposal for height {height}, the next is {next}"));
        }
        let validator = self
            .config
            .validators
            .get_by_address(&proposer)
            .ok_or_else(|| format!("proposer {proposer} is not a validator"))?;
        let signed = parts_sign_bytes(self.config.chain_id, init, &chunks);
        validator
            .public_key
            .verify(&signed, signature)
            .map_err(|_| format!("parts are not signed by their proposer {proposer}"))?;
        let bytes: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let proposal = BlockProposal::from_bytes(&bytes).map_err(|e| e.to_string())?;
        let id = BlockId(proposal.hash());
        let host = self.host.clone();
        let validated = self
            .chain_write()
            .validate_block_with_senders(&proposal, now_secs(), &|hash| host.sender_of(hash));
        let validity = match validated {
            Ok(block) => {
                self.blocks.insert(block.hash(), block);
                Validity::Valid
            }
            Err(error) => {
                tracing::warn!(%height, %round, %proposer, %error, "invalid block proposed");
                Validity::Invalid
            }
        };
        self.remember(height, round, pol_round, proposer, id, validity);
        Ok(ProposedValue {
            height,
            round,
            valid_round: pol_round,
            proposer,
            value: id,
            validity,
        })
    }

    fn ctx_proposer(&self, height: Height, round: Round) -> Option<ValidatorAddress> {
        use arc_malachitebft_app_channel::app::types::core::Context as _;
        round.as_u32()?;
        Some(
            self.ctx
                .select_proposer(&self.config.validators, height, round)
                .address,
        )
    }

    fn commit(&mut self, certificate: &CommitCertificate<ZgContext>) {
        let height = certificate.height;
        let Some(block) = self.blocks.remove(&certificate.value_id.0) else {
            tracing::error!(%height, block = %certificate.value_id, "decided a block this node does not hold");
            return;
        };
        let carried_transactions = !block.transactions().is_empty();
        let result = self
            .chain_write()
            .commit_block(block, encode_commit_certificate(certificate).into());
        match result {
            Ok(()) => {
                self.busy = carried_transactions;
                tracing::info!(%height, round = %certificate.round, block = %certificate.value_id, "committed");
                self.host.committed(height.0);
                self.blocks.clear();
                self.seen.retain(|(h, _), _| *h > height.0);
            }
            Err(error) => tracing::error!(%height, %error, "committing the decided block failed"),
        }
    }

    // Decided blocks with their certificates, for peers that are catching up.
    fn decided_values(&self, from: Height, to: Height) -> Vec<RawDecidedValue<ZgContext>> {
        let chain = self.chain_read();
        let to = to.0.min(chain.head().header.number);
        (from.0.max(1)..=to)
            .map_while(|number| {
                let block = chain.block(number)?;
                let certificate = decode_commit_certificate(block.certificate.as_ref()?).ok()?;
                let proposal = block.proposal();
                let certificate = ExtendedCommitCertificate {
                    height: certificate.height,
                    round: certificate.round,
                    value_id: certificate.value_id,
                    commit_signatures: certificate
                        .commit_signatures
                        .into_iter()
                        .map(|s| ExtendedCommitSignature::new(s.address, s.signature, None))
                        .collect(),
                };
                Some(RawDecidedValue::new(
                    Bytes::from(proposal.to_bytes()),
                    certificate,
                ))
            })
            .collect()
    }

    // A block a peer sent while this node catches up: re-executed like any proposal.
    fn synced(
        &mut self,
        height: Height,
        round: Round,
        proposer: ValidatorAddress,
        bytes: &[u8],
    ) -> SyncedValueOutcome<ZgContext> {
        let Ok(proposal) = BlockProposal::from_bytes(bytes) else {
            return SyncedValueOutcome::PeerFault;
        };
        if height != self.next_height() {
            return SyncedValueOutcome::LocalTransientError;
        }
        let now = now_secs().max(proposal.header.timestamp);
        let validated = self.chain_write().validate_block(&proposal, now);
        match validated {
            Ok(block) => {
                let value = BlockId(block.hash());
                self.blocks.insert(block.hash(), block);
                SyncedValueOutcome::Verdict(ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer,
                    value,
                    validity: Validity::Valid,
                })
            }
            Err(error) => {
                tracing::warn!(%height, %error, "a peer synced an invalid block");
                SyncedValueOutcome::PeerFault
            }
        }
    }
}
