//! The nodes' p2p network over libp2p, generic over the service a node carries: TCP +
//! noise + yamux, identify, gossipsub for the service's announcements, and one
//! request-response protocol for its requests. A [`P2pService`] names the topic and
//! protocol, the message types and their wire forms; the DA and storage nodes each
//! define one.
//!
//! One task owns the swarm; the node talks to it through [`Network`] (commands) and
//! receives [`NetEvent`]s (announcements and requests from peers). Everything from a
//! peer is bounded before it is read: requests and responses by the service's
//! limits, gossip 16 KiB; a peer gets at most [`REQUESTS_PER_WINDOW`] requests
//! answered per window, two connections, and 32 concurrent streams per connection.

use std::collections::{HashMap, HashSet};
use std::io;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
/// Peer addresses, as configs and flags take them.
pub use libp2p::Multiaddr;
pub use libp2p::PeerId;
use libp2p::futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode};
pub use libp2p::request_response::ResponseChannel;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{StreamProtocol, Swarm, connection_limits, identify, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::{Counter, Registry};

/// Largest gossip message (a 256-blob DA header is 12,303 bytes).
pub const MAX_GOSSIP: usize = 16 << 10;
/// Requests one peer gets answered per [`RATE_WINDOW`]; more are refused.
pub const REQUESTS_PER_WINDOW: u32 = 512;
/// The window of the per-peer request limit.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// What a node carries over the network: its gossip topic and announcements, its
/// request-response protocol, its messages and their bounded wire forms.
pub trait P2pService: Send + Sync + 'static {
    /// The gossipsub topic announcements go on.
    const TOPIC: &'static str;
    /// The request-response protocol name.
    const PROTOCOL: &'static str;
    /// Largest request frame read from a peer.
    const MAX_REQUEST: usize;
    /// Largest response frame read from a peer.
    const MAX_RESPONSE: usize;
    /// What a node announces (a new submission, a new file).
    type Announcement: Send + 'static;
    /// What peers ask.
    type Request: Send + std::fmt::Debug + 'static;
    /// What they are answered.
    type Response: Send + std::fmt::Debug + 'static;
    /// An announcement's gossip bytes.
    fn encode_announcement(a: &Self::Announcement) -> Vec<u8>;
    /// Parses gossip bytes; an error rejects the message and penalizes its sender.
    fn decode_announcement(b: &[u8]) -> Result<Self::Announcement, String>;
    /// A request's frame.
    fn encode_request(r: &Self::Request) -> Vec<u8>;
    /// Parses a request frame.
    fn decode_request(b: &[u8]) -> Result<Self::Request, String>;
    /// A response's frame.
    fn encode_response(r: &Self::Response) -> Vec<u8>;
    /// Parses a response frame; it is shared, so a response may keep slices of it
    /// (segments, cells) rather than copy them out.
    fn decode_response(b: bytes::Bytes) -> Result<Self::Response, String>;
    /// The answer that refuses a request, saying why (rate limited, busy).
    fn refused(why: String) -> Self::Response;
}

/// Length-prefixed frames with a size cap checked before anything is allocated;
/// frames refused (oversized, malformed) are counted.
pub struct FrameCodec<S> {
    bad_frames: Counter,
    _service: PhantomData<fn() -> S>,
}

impl<S> Clone for FrameCodec<S> {
    fn clone(&self) -> Self {
        Self {
            bad_frames: self.bad_frames.clone(),
            _service: PhantomData,
        }
    }
}

impl<S> FrameCodec<S> {
    fn new(bad_frames: Counter) -> Self {
        Self {
            bad_frames,
            _service: PhantomData,
        }
    }

    fn count<T>(&self, r: io::Result<T>) -> io::Result<T> {
        if r.is_err() {
            self.bad_frames.inc();
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
impl<S: P2pService> request_response::Codec for FrameCodec<S> {
    type Protocol = StreamProtocol;
    type Request = S::Request;
    type Response = S::Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<S::Request>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        let r = read_frame(io, S::MAX_REQUEST)
            .await
            .and_then(|f| S::decode_request(&f).map_err(invalid));
        self.count(r)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<S::Response>
    where
        T: libp2p::futures::AsyncRead + Unpin + Send,
    {
        let r = read_frame(io, S::MAX_RESPONSE)
            .await
            .and_then(|f| S::decode_response(bytes::Bytes::from(f)).map_err(invalid));
        self.count(r)
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: S::Request) -> io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &S::encode_request(&req)).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: S::Response) -> io::Result<()>
    where
        T: libp2p::futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &S::encode_response(&res)).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour<S: P2pService> {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    requests: request_response::Behaviour<FrameCodec<S>>,
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
pub enum NetEvent<S: P2pService> {
    /// A peer announced something (decoded and checked).
    Announced {
        /// The peer that published it.
        source: PeerId,
        /// What it announced.
        announcement: S::Announcement,
    },
    /// A peer asks; answer with [`Network::respond`].
    Request {
        /// Who asks.
        peer: PeerId,
        /// What.
        request: S::Request,
        /// Where the answer goes.
        channel: ResponseChannel<S::Response>,
    },
    /// A peer joined this node's service topic (a good time to compare inventories:
    /// from now on it hears this node's announcements).
    PeerJoined(PeerId),
}

enum Command<S: P2pService> {
    Publish(Vec<u8>),
    Request {
        peer: PeerId,
        request: S::Request,
        reply: oneshot::Sender<Result<S::Response, String>>,
    },
    Respond {
        channel: ResponseChannel<S::Response>,
        response: S::Response,
    },
    Ban(PeerId),
    Peers(oneshot::Sender<Vec<PeerId>>),
    PeerIp(PeerId, oneshot::Sender<Option<IpAddr>>),
    Shutdown,
}

/// Counts of what peers sent that was refused.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Gossip messages that did not decode (rejected, the sender penalized).
    pub gossip_rejected: Counter,
    /// Requests refused for the per-peer rate limit or a saturated node.
    pub requests_refused: Counter,
    /// Inbound streams that failed after their request was read (timeouts, resets).
    pub inbound_failures: Counter,
    /// Frames refused as oversized or malformed (requests and responses).
    pub bad_frames: Counter,
}

impl NetStats {
    /// Registers the counters (`zg_p2p_*`) in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "zg_p2p_gossip_rejected",
            "Gossip from peers that did not decode",
            self.gossip_rejected.clone(),
        );
        registry.register(
            "zg_p2p_requests_refused",
            "Peer requests refused (rate limit, saturation)",
            self.requests_refused.clone(),
        );
        registry.register(
            "zg_p2p_inbound_failures",
            "Peer streams that failed after their request was read",
            self.inbound_failures.clone(),
        );
        registry.register(
            "zg_p2p_bad_frames",
            "Frames from peers refused as oversized or malformed",
            self.bad_frames.clone(),
        );
    }
}

/// A handle on the node's network task.
pub struct Network<S: P2pService> {
    commands: mpsc::Sender<Command<S>>,
    peer_id: PeerId,
    listen: Multiaddr,
    stats: Arc<NetStats>,
}

impl<S: P2pService> Clone for Network<S> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
            peer_id: self.peer_id,
            listen: self.listen.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<S: P2pService> Network<S> {
    /// Starts the network with the node's ed25519 secret as its identity; returns
    /// once it listens.
    pub async fn start(
        cfg: P2pConfig,
        mut secret: [u8; 32],
    ) -> anyhow::Result<(Self, mpsc::Receiver<NetEvent<S>>)> {
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret).context("node key")?;
        let peer_id = keypair.public().to_peer_id();
        let stats = Arc::new(NetStats::default());
        let bad_frames = stats.bad_frames.clone();
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
                    requests: request_response::Behaviour::with_codec(
                        FrameCodec::new(bad_frames),
                        [(StreamProtocol::new(S::PROTOCOL), ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(30))
                            .with_max_concurrent_streams(32),
                    ),
                })
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&IdentTopic::new(S::TOPIC))
            .map_err(|e| anyhow!("subscribing to {}: {e}", S::TOPIC))?;
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
        tokio::spawn(run(swarm, rx, events_tx, cfg.peers, stats.clone()));
        let listen = listen.with(libp2p::multiaddr::Protocol::P2p(peer_id));
        tracing::info!(%listen, service = S::PROTOCOL, "p2p listening");
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

    async fn send(&self, c: Command<S>) {
        // The task ends only with the node; a closed channel means shutting down.
        let _ = self.commands.send(c).await;
    }

    /// Announces something this node holds to every peer.
    pub async fn announce(&self, announcement: &S::Announcement) {
        self.send(Command::Publish(S::encode_announcement(announcement)))
            .await;
    }

    /// Asks `peer`; errors name the failure (timeout, closed, refused to decode).
    pub async fn request(&self, peer: PeerId, request: S::Request) -> Result<S::Response, String> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Request { peer, request, reply }).await;
        rx.await.unwrap_or_else(|_| Err("network stopped".into()))
    }

    /// Answers a peer's request.
    pub async fn respond(&self, channel: ResponseChannel<S::Response>, response: S::Response) {
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

    /// The IP address `peer` is connected from (or was dialed at), while connected:
    /// where its other services are, rather than wherever it might claim they are.
    pub async fn peer_ip(&self, peer: PeerId) -> Option<IpAddr> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::PeerIp(peer, reply)).await;
        rx.await.ok().flatten()
    }
}

/// The IP address in a multiaddr (`/ip4/…` or `/ip6/…`), if it has one.
fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        libp2p::multiaddr::Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

struct RateLimit {
    window_start: Instant,
    count: u32,
}

/// Refuses a peer's request (`why`, or "busy" when the node's queue is full: refuse
/// rather than queue without bound) or hands it to the node.
fn hand_over<S: P2pService>(
    behaviour: &mut request_response::Behaviour<FrameCodec<S>>,
    events: &mpsc::Sender<NetEvent<S>>,
    stats: &NetStats,
    why: Option<&'static str>,
    peer: PeerId,
    request: S::Request,
    channel: ResponseChannel<S::Response>,
) {
    // Only the swarm task sends events, so capacity seen here is capacity at the send.
    match why.or_else(|| (events.capacity() == 0).then_some("busy")) {
        Some(why) => {
            stats.requests_refused.inc();
            // Fails only if the peer went away meanwhile.
            let _ = behaviour.send_response(channel, S::refused(why.into()));
        }
        // Closed only while the node shuts down.
        None => {
            let _ = events.try_send(NetEvent::Request {
                peer,
                request,
                channel,
            });
        }
    }
}

/// Gives a pending outbound request its answer.
fn settle<R>(
    pending: &mut HashMap<OutboundRequestId, oneshot::Sender<Result<R, String>>>,
    id: OutboundRequestId,
    answer: Result<R, String>,
) {
    if let Some(reply) = pending.remove(&id) {
        let _ = reply.send(answer);
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

async fn run<S: P2pService>(
    mut swarm: Swarm<Behaviour<S>>,
    mut commands: mpsc::Receiver<Command<S>>,
    events: mpsc::Sender<NetEvent<S>>,
    peers: Vec<Multiaddr>,
    stats: Arc<NetStats>,
) {
    let topic = IdentTopic::new(S::TOPIC);
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<S::Response, String>>> =
        HashMap::new();
    let mut rates: HashMap<PeerId, RateLimit> = HashMap::new();
    let mut banned: HashSet<PeerId> = HashSet::new();
    let mut ips: HashMap<PeerId, IpAddr> = HashMap::new();
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
                        let id = swarm.behaviour_mut().requests.send_request(&peer, request);
                        pending.insert(id, reply);
                    }
                    Command::Respond { channel, response } => {
                        // Fails only if the peer went away meanwhile.
                        let _ = swarm.behaviour_mut().requests.send_response(channel, response);
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
                    Command::PeerIp(peer, reply) => {
                        let _ = reply.send(ips.get(&peer).copied());
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
                    let decoded = if message.topic == topic.hash() {
                        S::decode_announcement(&message.data)
                    } else {
                        Err(format!("unknown topic {}", message.topic))
                    };
                    let verdict = match decoded {
                        Ok(announcement) if !banned.contains(&source) => {
                            let _ = events.try_send(NetEvent::Announced { source, announcement });
                            MessageAcceptance::Accept
                        }
                        Ok(_) => MessageAcceptance::Ignore,
                        Err(e) => {
                            stats.gossip_rejected.inc();
                            tracing::warn!(peer = %propagation_source, error = %e, "garbage announcement rejected");
                            MessageAcceptance::Reject
                        }
                    };
                    swarm.behaviour_mut().gossipsub.report_message_validation_result(&message_id, &propagation_source, verdict);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Requests(request_response::Event::Message { peer, message, .. })) => match message {
                    request_response::Message::Request { request, channel, .. } => {
                        let why = (!admit(&mut rates, &banned, peer)).then_some("rate limited");
                        hand_over(&mut swarm.behaviour_mut().requests, &events, &stats, why, peer, request, channel);
                    }
                    request_response::Message::Response { request_id, response } => settle(&mut pending, request_id, Ok(response)),
                },
                SwarmEvent::Behaviour(BehaviourEvent::Requests(request_response::Event::OutboundFailure { peer, request_id, error, .. })) => {
                    tracing::debug!(%peer, %error, "request failed");
                    settle(&mut pending, request_id, Err(error.to_string()));
                }
                SwarmEvent::Behaviour(BehaviourEvent::Requests(request_response::Event::InboundFailure { peer, error, .. })) => {
                    stats.inbound_failures.inc();
                    tracing::debug!(%peer, %error, "inbound request failed");
                }
                SwarmEvent::ConnectionEstablished { peer_id, num_established, endpoint, .. } => {
                    if banned.contains(&peer_id) {
                        let _ = swarm.disconnect_peer_id(peer_id);
                    } else {
                        if let Some(ip) = ip_of(endpoint.get_remote_address()) {
                            ips.insert(peer_id, ip);
                        }
                        if num_established.get() == 1 {
                            tracing::info!(peer = %peer_id, "peer connected");
                        }
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    tracing::info!(peer = %peer_id, "peer disconnected");
                    rates.remove(&peer_id);
                    ips.remove(&peer_id);
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
        let e = block_on(read_frame(&mut huge, 64)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut ok = Cursor::new([&3u32.to_le_bytes()[..], b"abc"].concat());
        assert_eq!(block_on(read_frame(&mut ok, 64)).unwrap(), b"abc");
        let mut short = Cursor::new([&5u32.to_le_bytes()[..], b"ab"].concat());
        assert!(block_on(read_frame(&mut short, 64)).is_err());
    }
}
