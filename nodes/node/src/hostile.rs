//! A hostile libp2p peer for the nodes' tests: it gossips what it is told and sends
//! raw frames (length prefix included) on one request-response protocol.

use std::io;
use std::time::Duration;

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, Swarm, noise, tcp, yamux};

/// Requests go out exactly as given (length prefix included); responses are frames.
#[derive(Clone, Default)]
pub struct RawCodec;

#[async_trait::async_trait]
impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;
    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> io::Result<Vec<u8>> {
        Err(io::Error::other("the hostile peer serves nothing"))
    }
    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        io.read_exact(&mut len).await?;
        let mut body = vec![0u8; (u32::from_le_bytes(len) as usize).min(1 << 20)];
        io.read_exact(&mut body).await?;
        Ok(body)
    }
    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&req).await?;
        io.close().await
    }
    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// The hostile peer's protocols: gossip and one raw request-response protocol.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Gossip on the node's topic.
    pub gossipsub: gossipsub::Behaviour,
    /// Raw frames on the node's request-response protocol.
    pub raw: request_response::Behaviour<RawCodec>,
}

/// A fresh peer subscribed to `topic` that speaks `protocol` outbound.
pub fn swarm(topic: &str, protocol: &'static str) -> Swarm<Behaviour> {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|key| {
            let mut gossipsub = gossipsub::Behaviour::new(
                MessageAuthenticity::Signed(key.clone()),
                gossipsub::ConfigBuilder::default()
                    .heartbeat_interval(Duration::from_millis(200))
                    .build()
                    .unwrap(),
            )
            .unwrap();
            gossipsub.subscribe(&IdentTopic::new(topic)).unwrap();
            Behaviour {
                gossipsub,
                raw: request_response::Behaviour::with_codec(
                    RawCodec,
                    [(StreamProtocol::new(protocol), ProtocolSupport::Outbound)],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(20))
                        .with_max_concurrent_streams(1024),
                ),
            }
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// `body` with its length prefix, as zg's codec frames it.
pub fn frame(body: &[u8]) -> Vec<u8> {
    [&(body.len() as u32).to_le_bytes()[..], body].concat()
}

/// A frame whose prefix claims 1 GiB (only 60 bytes follow).
pub fn claims_one_gib() -> Vec<u8> {
    [&(1u32 << 30).to_le_bytes()[..], &[0u8; 60]].concat()
}

/// A hostile peer connected to the node at `addr`, once the node's subscription to
/// `topic` reached it (so its gossip is heard); returns the node's peer id too.
pub async fn joined(addr: &str, topic: &str, protocol: &'static str) -> (Swarm<Behaviour>, libp2p::PeerId) {
    use libp2p::futures::StreamExt;
    let mut swarm = swarm(topic, protocol);
    let target: libp2p::Multiaddr = addr.parse().unwrap();
    let libp2p::multiaddr::Protocol::P2p(peer) = target.iter().last().unwrap() else {
        panic!("no peer id in {target}")
    };
    swarm.dial(target).unwrap();
    loop {
        if let libp2p::swarm::SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(
            gossipsub::Event::Subscribed { .. },
        )) = swarm.select_next_some().await
        {
            return (swarm, peer);
        }
    }
}

/// Sends `count` copies of `request` in waves of 16 streams (the node drops streams
/// past 32 at once) after `earlier` requests already sent, and counts the outcomes of
/// all of them: (answered with tag `ok_tag`, refused with tag 3, failed streams).
pub async fn flood(
    swarm: &mut Swarm<Behaviour>,
    peer: libp2p::PeerId,
    request: &[u8],
    count: usize,
    earlier: usize,
    ok_tag: u8,
) -> (usize, usize, usize) {
    use libp2p::futures::StreamExt;
    use libp2p::request_response::{Event, Message};
    use libp2p::swarm::SwarmEvent;
    let (mut answered, mut refused, mut failed) = (0, 0, 0);
    let mut sent = 0;
    while answered + refused + failed < count + earlier {
        while sent < count && sent + earlier < answered + refused + failed + 16 {
            swarm.behaviour_mut().raw.send_request(&peer, request.to_vec());
            sent += 1;
        }
        match swarm.select_next_some().await {
            SwarmEvent::Behaviour(BehaviourEvent::Raw(Event::Message {
                message: Message::Response { response, .. },
                ..
            })) => match response.first() {
                Some(t) if *t == ok_tag => answered += 1,
                Some(3) => refused += 1,
                other => panic!("unexpected response tag {other:?}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Raw(Event::OutboundFailure { .. })) => failed += 1,
            _ => {}
        }
    }
    (answered, refused, failed)
}
