//! The nodes' p2p network over libp2p, shared by DA and storage nodes: TCP + noise +
//! yamux, identify, gossipsub for announcements (new submissions, new files), and two
//! request-response protocols: DA headers and cells, storage segments and inventories.
//!
//! One task owns the swarm; the node talks to it through [`Network`] (commands) and
//! receives [`NetEvent`]s (announcements and requests from peers). A node serves one
//! [`Service`]: it subscribes to that service's topic and refuses the other's requests.
//! Everything from a peer is bounded before it is read: DA requests 64 bytes and
//! responses one blob record, file requests 43 bytes and responses 16 segments with
//! proofs, gossip 16 KiB; a peer gets at most [`REQUESTS_PER_WINDOW`] requests answered
//! per window, two connections, and 32 concurrent streams per connection.

use std::collections::{HashMap, HashSet};
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
/// Peer addresses, as configs and flags take them.
pub use libp2p::Multiaddr;
use libp2p::futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{PeerId, StreamProtocol, Swarm, connection_limits, identify, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
pub use zg_blob::da::{DaRequest, DaResponse};
use zg_blob::da::{MAX_BLOB_RECORD, SubmissionHeader};
pub use zg_file::replica::{FileEntry, FileRequest, FileResponse};
use zg_file::replica::{MAX_FILE_REQUEST, MAX_FILE_RESPONSE};

/// The gossipsub topic DA nodes announce new submissions on.
pub const DA_TOPIC: &str = "zg/da/submissions/1";
/// The gossipsub topic storage nodes announce new files on.
pub const FILES_TOPIC: &str = "zg/storage/files/1";
/// The request-response protocol for DA headers and cells.
pub const DA_PROTOCOL: &str = "/zg/da/cells/1";
/// The request-response protocol for file segments and inventories.
pub const FILES_PROTOCOL: &str = "/zg/storage/segments/1";
/// Largest DA request read from a peer.
pub const MAX_REQUEST: usize = 64;
/// Largest DA response read from a peer: one blob record and a tag.
pub const MAX_RESPONSE: usize = MAX_BLOB_RECORD + 1;
/// Largest gossip message (a 256-blob header is 12,303 bytes).
pub const MAX_GOSSIP: usize = 16 << 10;
/// Requests one peer gets answered per [`RATE_WINDOW`]; more are refused.
pub const REQUESTS_PER_WINDOW: u32 = 512;
/// The window of the per-peer request limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Which node kind a network serves: its topic, and the protocol it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// A DA node: submissions and cells.
    Da,
    /// A storage node: files and segments.
    Storage,
}

impl Service {
    fn topic(self) -> &'static str {
        match self {
            Self::Da => DA_TOPIC,
            Self::Storage => FILES_TOPIC,
        }
    }
}

/// A message with a wire form and a size cap.
pub trait Wire: Sized + Send + 'static {
    /// Largest frame accepted.
    const MAX: usize;
    /// Its bytes.
    fn to_wire(&self) -> Vec<u8>;
    /// Parses its bytes.
    fn from_wire(b: &[u8]) -> Result<Self, String>;
}

macro_rules! wire {
    ($t:ty, $max:expr) => {
        impl Wire for $t {
            const MAX: usize = $max;
            fn to_wire(&self) -> Vec<u8> {
                self.encode()
            }
            fn from_wire(b: &[u8]) -> Result<Self, String> {
                Self::decode(b)
            }
        }
    };
}
wire!(DaRequest, MAX_REQUEST);
wire!(DaResponse, MAX_RESPONSE);
wire!(FileRequest, MAX_FILE_REQUEST);
wire!(FileResponse, MAX_FILE_RESPONSE);

/// Length-prefixed frames with a size cap checked before anything is allocated;
/// frames refused (oversized, malformed) are counted.
pub struct FrameCodec<Q, S> {
    bad_frames: Arc<AtomicU64>,
    _messages: PhantomData<fn() -> (Q, S)>,
}

impl<Q, S> Clone for FrameCodec<Q, S> {
    fn clone(&self) -> Self {
        Self {
            bad_frames: self.bad_frames.clone(),
            _messages: PhantomData,
        }
    }
}

impl<Q, S> FrameCodec<Q, S> {
    fn new(bad_frames: Arc<AtomicU64>) -> Self {
        Self {
            bad_frames,
            _messages: PhantomData,
        }
    }

    fn count<T>(&self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.bad_frames.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

async fn read_frame<T: libp2p::futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: libp2p::futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
) -> io::Result<()> {
    io.write_all(&(bytes.len() as u32).to_le_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid(e: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[async_trait::async_trait]
impl<Q: Wire, S: Wire> request_response::Codec for FrameCodec<Q, S> {
    type Protocol = StreamProtocol;
    type Request = Q;
    type Response = S;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Q>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        let r = read_frame(io, Q::MAX)
            .await
            .and_then(|f| Q::from_wire(&f).map_err(invalid));
        self.count(r)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<S>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        let r = read_frame(io, S::MAX)
            .await
            .and_then(|f| S::from_wire(&f).map_err(invalid));
        self.count(r)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Q) -> io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req.to_wire()).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: S) -> io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res.to_wire()).await
    }
}

/// The DA protocol's codec.
pub type DaCodec = FrameCodec<DaRequest, DaResponse>;
/// The storage protocol's codec.
pub type FileCodec = FrameCodec<FileRequest, FileResponse>;

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    da: request_response::Behaviour<DaCodec>,
    files: request_response::Behaviour<FileCodec>,
}

/// How a node joins the network.
#[derive(Clone, Debug)]
pub struct P2pConfig {
    /// Address to listen on, e.g. `/ip4/127.0.0.1/tcp/1234`.
    pub listen: Multiaddr,
    /// Peers to dial (and redial while they are away).
    pub peers: Vec<Multiaddr>,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            listen: "/ip4/127.0.0.1/tcp/1234".parse().expect("valid multiaddr"),
            peers: Vec::new(),
        }
    }
}

/// What the network hands the node.
pub enum NetEvent {
    /// A peer announced a submission (its header decoded and checked).
    Announced {
        /// The peer that published it.
        source: PeerId,
        /// The header.
        header: SubmissionHeader,
    },
    /// A peer announced a file it stores.
    FileAnnounced {
        /// The peer that published it.
        source: PeerId,
        /// The file.
        entry: FileEntry,
    },
    /// A peer asks for DA data; answer with [`Network::respond`].
    Request {
        /// Who asks.
        peer: PeerId,
        /// What.
        request: DaRequest,
        /// Where the answer goes.
        channel: ResponseChannel<DaResponse>,
    },
    /// A peer asks for segments or the inventory; answer with [`Network::respond_file`].
    FileRequest {
        /// Who asks.
        peer: PeerId,
        /// What.
        request: FileRequest,
        /// Where the answer goes.
        channel: ResponseChannel<FileResponse>,
    },
    /// A peer joined this node's service topic (a good time to compare inventories:
    /// from now on it hears this node's announcements).
    PeerJoined(PeerId),
}

enum Command {
    Publish(Vec<u8>),
    Request {
        peer: PeerId,
        request: DaRequest,
        reply: oneshot::Sender<Result<DaResponse, String>>,
    },
    Respond {
        channel: ResponseChannel<DaResponse>,
        response: DaResponse,
    },
    FileRequest {
        peer: PeerId,
        request: FileRequest,
        reply: oneshot::Sender<Result<FileResponse, String>>,
    },
    RespondFile {
        channel: ResponseChannel<FileResponse>,
        response: FileResponse,
    },
    Ban(PeerId),
    Peers(oneshot::Sender<Vec<PeerId>>),
    Shutdown,
}

/// Counts of what peers sent that was refused.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Gossip messages that did not decode (rejected, the sender penalized).
    pub gossip_rejected: AtomicU64,
    /// Requests refused for the per-peer rate limit or a saturated node.
    pub requests_refused: AtomicU64,
    /// Inbound streams that failed after their request was read (timeouts, resets).
    pub inbound_failures: AtomicU64,
    /// Frames refused as oversized or malformed (requests and responses).
    pub bad_frames: Arc<AtomicU64>,
}

impl NetStats {
    /// The counters in Prometheus text format (zeros for a node without a network).
    pub fn prometheus(stats: Option<&Self>) -> String {
        let g = |a: Option<&AtomicU64>| a.map_or(0, |a| a.load(Ordering::Relaxed));
        format!(
            "# HELP zg_p2p_gossip_rejected_total Gossip from peers that did not decode.\n# TYPE zg_p2p_gossip_rejected_total counter\nzg_p2p_gossip_rejected_total {}\n\
             # HELP zg_p2p_requests_refused_total Peer requests refused (rate limit, saturation, wrong service).\n# TYPE zg_p2p_requests_refused_total counter\nzg_p2p_requests_refused_total {}\n\
             # HELP zg_p2p_inbound_failures_total Peer streams that failed after their request was read.\n# TYPE zg_p2p_inbound_failures_total counter\nzg_p2p_inbound_failures_total {}\n\
             # HELP zg_p2p_bad_frames_total Frames from peers refused as oversized or malformed.\n# TYPE zg_p2p_bad_frames_total counter\nzg_p2p_bad_frames_total {}\n",
            g(stats.map(|s| &s.gossip_rejected)),
            g(stats.map(|s| &s.requests_refused)),
            g(stats.map(|s| &s.inbound_failures)),
            g(stats.map(|s| &*s.bad_frames)),
        )
    }
}

/// A handle on the node's network task.
#[derive(Clone)]
pub struct Network {
    commands: mpsc::Sender<Command>,
    peer_id: PeerId,
    listen: Multiaddr,
    stats: Arc<NetStats>,
}

impl Network {
    /// Starts the network of a `service` node with the node's ed25519 secret as its
    /// identity; returns once it listens.
    pub async fn start(
        cfg: P2pConfig,
        mut secret: [u8; 32],
        service: Service,
    ) -> anyhow::Result<(Self, mpsc::Receiver<NetEvent>)> {
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret).context("node key")?;
        let peer_id = keypair.public().to_peer_id();
        let stats = Arc::new(NetStats::default());
        let bad_frames = stats.bad_frames.clone();
        let rr_config = || {
            request_response::Config::default()
                .with_request_timeout(Duration::from_secs(30))
                .with_max_concurrent_streams(32)
        };
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|key| {
                let gossip = gossipsub::ConfigBuilder::default()
                    .max_transmit_size(MAX_GOSSIP)
                    .validation_mode(ValidationMode::Strict)
                    .validate_messages()
                    .heartbeat_interval(Duration::from_millis(500))
                    .build()
                    .map_err(|e| anyhow!("gossipsub config: {e}"))?;
                Ok(Behaviour {
                    limits: connection_limits::Behaviour::new(
                        connection_limits::ConnectionLimits::default()
                            .with_max_established(Some(256))
                            .with_max_established_per_peer(Some(2))
                            .with_max_pending_incoming(Some(64)),
                    ),
                    identify: identify::Behaviour::new(identify::Config::new(
                        "/zg/1.0.0".into(),
                        key.public(),
                    )),
                    gossipsub: gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip)
                        .map_err(|e| anyhow!("gossipsub: {e}"))?,
                    da: request_response::Behaviour::with_codec(
                        DaCodec::new(bad_frames.clone()),
                        [(StreamProtocol::new(DA_PROTOCOL), ProtocolSupport::Full)],
                        rr_config(),
                    ),
                    files: request_response::Behaviour::with_codec(
                        FileCodec::new(bad_frames.clone()),
                        [(StreamProtocol::new(FILES_PROTOCOL), ProtocolSupport::Full)],
                        rr_config(),
                    ),
                })
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        let topic = service.topic();
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&IdentTopic::new(topic))
            .map_err(|e| anyhow!("subscribing to {topic}: {e}"))?;
        swarm.listen_on(cfg.listen.clone()).with_context(|| {
            format!(
                "cannot listen on {} (choose another with --p2p-listen)",
                cfg.listen
            )
        })?;
        let listen = loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => break address,
                SwarmEvent::ListenerError { error, .. }
                | SwarmEvent::ListenerClosed {
                    reason: Err(error), ..
                } => {
                    return Err(anyhow!("cannot listen on {}: {error}", cfg.listen));
                }
                _ => {}
            }
        };
        for peer in &cfg.peers {
            if let Err(e) = swarm.dial(peer.clone()) {
                tracing::warn!(%peer, error = %e, "cannot dial peer; will retry");
            }
        }
        let (commands, rx) = mpsc::channel(1024);
        let (events_tx, events) = mpsc::channel(1024);
        tokio::spawn(run(swarm, rx, events_tx, cfg.peers, stats.clone(), service));
        let listen = listen.with(libp2p::multiaddr::Protocol::P2p(peer_id));
        tracing::info!(%listen, "p2p listening");
        Ok((
            Self {
                commands,
                peer_id,
                listen,
                stats,
            },
            events,
        ))
    }

    /// What peers sent that was refused.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The address peers dial, with `/p2p/<peer id>`.
    pub fn listen_addr(&self) -> &Multiaddr {
        &self.listen
    }

    async fn send(&self, c: Command) {
        // The task ends only with the node; a closed channel means shutting down.
        let _ = self.commands.send(c).await;
    }

    /// Announces a submission this node holds to every peer.
    pub async fn announce(&self, header: &SubmissionHeader) {
        self.send(Command::Publish(header.encode())).await;
    }

    /// Announces a file this node stores to every peer.
    pub async fn announce_file(&self, entry: &FileEntry) {
        self.send(Command::Publish(entry.announcement())).await;
    }

    /// Asks a storage `peer`; errors name the failure.
    pub async fn request_file(&self, peer: PeerId, request: FileRequest) -> Result<FileResponse, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::FileRequest { peer, request, reply }).await;
        rx.await.unwrap_or_else(|_| Err("network stopped".into()))
    }

    /// Answers a storage peer's request.
    pub async fn respond_file(&self, channel: ResponseChannel<FileResponse>, response: FileResponse) {
        self.send(Command::RespondFile { channel, response }).await;
    }

    /// Asks `peer`; errors name the failure (timeout, closed, refused to decode).
    pub async fn request(&self, peer: PeerId, request: DaRequest) -> Result<DaResponse, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Request { peer, request, reply }).await;
        rx.await.unwrap_or_else(|_| Err("network stopped".into()))
    }

    /// Answers a peer's request.
    pub async fn respond(&self, channel: ResponseChannel<DaResponse>, response: DaResponse) {
        self.send(Command::Respond { channel, response }).await;
    }

    /// Drops a misbehaving peer and ignores its gossip from now on.
    pub async fn ban(&self, peer: PeerId) {
        self.send(Command::Ban(peer)).await;
    }

    /// Stops the network: connections close, the event stream ends.
    pub async fn shutdown(&self) {
        self.send(Command::Shutdown).await;
    }

    /// Peers subscribed to this node's service topic.
    pub async fn peers(&self) -> Vec<PeerId> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Peers(reply)).await;
        rx.await.unwrap_or_default()
    }
}

struct RateLimit {
    window_start: Instant,
    count: u32,
}

/// Refuses a peer's request (`why`, or "busy" when the node's queue is full: refuse
/// rather than queue without bound) or hands it to the node as `event`.
fn hand_over<Q: Wire, S: Wire>(
    behaviour: &mut request_response::Behaviour<FrameCodec<Q, S>>,
    events: &mpsc::Sender<NetEvent>,
    stats: &NetStats,
    why: Option<&'static str>,
    channel: ResponseChannel<S>,
    refused: fn(String) -> S,
    event: impl FnOnce(ResponseChannel<S>) -> NetEvent,
) {
    // Only the swarm task sends events, so capacity seen here is capacity at the send.
    match why.or_else(|| (events.capacity() == 0).then_some("busy")) {
        Some(why) => {
            stats.requests_refused.fetch_add(1, Ordering::Relaxed);
            // Fails only if the peer went away meanwhile.
            let _ = behaviour.send_response(channel, refused(why.into()));
        }
        // Closed only while the node shuts down.
        None => {
            let _ = events.try_send(event(channel));
        }
    }
}

/// Gives a pending outbound request its answer.
fn settle<S>(
    pending: &mut HashMap<OutboundRequestId, oneshot::Sender<Result<S, String>>>,
    id: OutboundRequestId,
    answer: Result<S, String>,
) {
    if let Some(reply) = pending.remove(&id) {
        let _ = reply.send(answer);
    }
}

/// Why a request on `protocol`'s service from `peer` is refused, if it is.
fn refusal(
    rates: &mut HashMap<PeerId, RateLimit>,
    banned: &HashSet<PeerId>,
    peer: PeerId,
    service: Service,
    protocol: Service,
) -> Option<&'static str> {
    if !admit(rates, banned, peer) {
        Some("rate limited")
    } else if service != protocol {
        Some("not served by this node")
    } else {
        None
    }
}

/// Counts a request from `peer` against its window; whether to answer it.
fn admit(rates: &mut HashMap<PeerId, RateLimit>, banned: &HashSet<PeerId>, peer: PeerId) -> bool {
    let now = Instant::now();
    let rate = rates.entry(peer).or_insert(RateLimit {
        window_start: now,
        count: 0,
    });
    if now.duration_since(rate.window_start) > RATE_WINDOW {
        *rate = RateLimit {
            window_start: now,
            count: 0,
        };
    }
    rate.count += 1;
    if rate.count == REQUESTS_PER_WINDOW + 1 {
        tracing::warn!(%peer, "peer over its request rate; refusing until the window ends");
    }
    !banned.contains(&peer) && rate.count <= REQUESTS_PER_WINDOW
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    peers: Vec<Multiaddr>,
    stats: Arc<NetStats>,
    service: Service,
) {
    let topic = IdentTopic::new(service.topic());
    let da_topic = IdentTopic::new(DA_TOPIC).hash();
    let files_topic = IdentTopic::new(FILES_TOPIC).hash();
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<DaResponse, String>>> = HashMap::new();
    let mut pending_files: HashMap<OutboundRequestId, oneshot::Sender<Result<FileResponse, String>>> =
        HashMap::new();
    let mut rates: HashMap<PeerId, RateLimit> = HashMap::new();
    let mut banned: HashSet<PeerId> = HashSet::new();
    let mut redial = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                match command {
                    Command::Publish(data) => {
                        match swarm.behaviour_mut().gossipsub.publish(topic.clone(), data) {
                            Ok(_) => {}
                            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                                tracing::debug!("no peers to announce to");
                            }
                            Err(e) => tracing::warn!(error = %e, "announcement not published"),
                        }
                    }
                    Command::Request { peer, request, reply } => {
                        let id = swarm.behaviour_mut().da.send_request(&peer, request);
                        pending.insert(id, reply);
                    }
                    Command::Respond { channel, response } => {
                        // Fails only if the peer went away meanwhile.
                        let _ = swarm.behaviour_mut().da.send_response(channel, response);
                    }
                    Command::FileRequest { peer, request, reply } => {
                        let id = swarm.behaviour_mut().files.send_request(&peer, request);
                        pending_files.insert(id, reply);
                    }
                    Command::RespondFile { channel, response } => {
                        let _ = swarm.behaviour_mut().files.send_response(channel, response);
                    }
                    Command::Shutdown => break,
                    Command::Ban(peer) => {
                        banned.insert(peer);
                        swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                    Command::Peers(reply) => {
                        let hash = topic.hash();
                        let list = swarm
                            .behaviour()
                            .gossipsub
                            .all_peers()
                            .filter(|(_, topics)| topics.contains(&&hash))
                            .map(|(p, _)| *p)
                            .collect();
                        let _ = reply.send(list);
                    }
                }
            }
            _ = redial.tick() => {
                for addr in &peers {
                    let connected = addr.iter().any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(id) if swarm.is_connected(&id)));
                    if !connected {
                        let _ = swarm.dial(addr.clone());
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { peer_id, topic: t }))
                    if t == topic.hash() && !banned.contains(&peer_id) =>
                {
                    let _ = events.try_send(NetEvent::PeerJoined(peer_id));
                }
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message })) => {
                    let source = message.source.unwrap_or(propagation_source);
                    let decoded = if message.topic == da_topic {
                        SubmissionHeader::decode(&message.data)
                            .map(|header| NetEvent::Announced { source, header })
                            .map_err(|e| e.to_string())
                    } else if message.topic == files_topic {
                        FileEntry::from_announcement(&message.data).map(|entry| NetEvent::FileAnnounced { source, entry })
                    } else {
                        Err(format!("unknown topic {}", message.topic))
                    };
                    let verdict = match decoded {
                        Ok(event) if !banned.contains(&source) => {
                            let _ = events.try_send(event);
                            MessageAcceptance::Accept
                        }
                        Ok(_) => MessageAcceptance::Ignore,
                        Err(e) => {
                            stats.gossip_rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(peer = %propagation_source, error = %e, "garbage announcement rejected");
                            MessageAcceptance::Reject
                        }
                    };
                    swarm.behaviour_mut().gossipsub.report_message_validation_result(&message_id, &propagation_source, verdict);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Da(request_response::Event::Message { peer, message, .. })) => match message {
                    request_response::Message::Request { request, channel, .. } => {
                        let why = refusal(&mut rates, &banned, peer, service, Service::Da);
                        hand_over(&mut swarm.behaviour_mut().da, &events, &stats, why, channel, DaResponse::Refused, |channel| {
                            NetEvent::Request { peer, request, channel }
                        });
                    }
                    request_response::Message::Response { request_id, response } => settle(&mut pending, request_id, Ok(response)),
                },
                SwarmEvent::Behaviour(BehaviourEvent::Files(request_response::Event::Message { peer, message, .. })) => match message {
                    request_response::Message::Request { request, channel, .. } => {
                        let why = refusal(&mut rates, &banned, peer, service, Service::Storage);
                        hand_over(&mut swarm.behaviour_mut().files, &events, &stats, why, channel, FileResponse::Refused, |channel| {
                            NetEvent::FileRequest { peer, request, channel }
                        });
                    }
                    request_response::Message::Response { request_id, response } => settle(&mut pending_files, request_id, Ok(response)),
                },
                SwarmEvent::Behaviour(BehaviourEvent::Da(request_response::Event::OutboundFailure { peer, request_id, error, .. })) => {
                    tracing::debug!(%peer, %error, "request failed");
                    settle(&mut pending, request_id, Err(error.to_string()));
                }
                SwarmEvent::Behaviour(BehaviourEvent::Files(request_response::Event::OutboundFailure { peer, request_id, error, .. })) => {
                    tracing::debug!(%peer, %error, "file request failed");
                    settle(&mut pending_files, request_id, Err(error.to_string()));
                }
                SwarmEvent::Behaviour(BehaviourEvent::Da(request_response::Event::InboundFailure { peer, error, .. }))
                | SwarmEvent::Behaviour(BehaviourEvent::Files(request_response::Event::InboundFailure { peer, error, .. })) => {
                    stats.inbound_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, %error, "inbound request failed");
                }
                SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
                    if banned.contains(&peer_id) {
                        let _ = swarm.disconnect_peer_id(peer_id);
                    } else if num_established.get() == 1 {
                        tracing::info!(peer = %peer_id, "peer connected");
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    tracing::info!(peer = %peer_id, "peer disconnected");
                    rates.remove(&peer_id);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_over_the_limit_are_refused_before_allocating() {
        use libp2p::futures::executor::block_on;
        use libp2p::futures::io::Cursor;
        // Claims 4 GiB; only the prefix is there.
        let mut huge = Cursor::new(u32::MAX.to_le_bytes().to_vec());
        let e = block_on(read_frame(&mut huge, MAX_REQUEST)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut ok = Cursor::new([&3u32.to_le_bytes()[..], b"abc"].concat());
        assert_eq!(block_on(read_frame(&mut ok, MAX_REQUEST)).unwrap(), b"abc");
        let mut short = Cursor::new([&5u32.to_le_bytes()[..], b"ab"].concat());
        assert!(block_on(read_frame(&mut short, MAX_REQUEST)).is_err());
    }
}
