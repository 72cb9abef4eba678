//! A hostile libp2p peer for the nodes' tests: it gossips what it is told and sends
//! raw frames (length prefix included) on one request-response protocol.
#![allow(dead_code)]

use std::io;
use std::time::Duration;

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, Swarm, noise, tcp, yamux};

/// Requests go out exactly as given (length prefix included); responses are frames.
#[derive(Clone, Default)]
pub(crate) struct RawCodec;

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

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) raw: request_response::Behaviour<RawCodec>,
}

pub(crate) fn swarm(topic: &str, protocol: &'static str) -> Swarm<Behaviour> {
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
