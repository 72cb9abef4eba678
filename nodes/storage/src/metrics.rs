//! What a storage node reports on `/metrics`.

use zg_node::metrics::{Counter, Gauge, Histogram, Registry};
use zg_node::p2p::Network;

use crate::wire::FileProtocol;

/// What the node reports on `/metrics`: counters the service, its transports and
/// replication bump, and gauges read from the store when scraped.
pub(crate) struct Metrics {
    pub(crate) bytes_in: Counter,
    pub(crate) bytes_out: Counter,
    pub(crate) segments_in: Counter,
    pub(crate) segments_out: Counter,
    pub(crate) proof_failures: Counter,
    pub(crate) rejected: Counter,
    pub(crate) rpc_requests: Counter,
    pub(crate) files_finalized: Counter,
    pub(crate) replicated_files: Counter,
    pub(crate) replicated_bytes: Counter,
    pub(crate) replicated_http_bytes: Counter,
    pub(crate) peer_requests: Counter,
    pub(crate) peer_bad_segments: Counter,
    pub(crate) segments_repaired: Counter,
    pub(crate) store_write_seconds: Histogram,
    pub(crate) store_used_bytes: Gauge,
    pub(crate) store_segments: Gauge,
    pub(crate) catalog_files: Gauge,
    pub(crate) peers: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            segments_in: Counter::default(),
            segments_out: Counter::default(),
            proof_failures: Counter::default(),
            rejected: Counter::default(),
            rpc_requests: Counter::default(),
            files_finalized: Counter::default(),
            replicated_files: Counter::default(),
            replicated_bytes: Counter::default(),
            replicated_http_bytes: Counter::default(),
            peer_requests: Counter::default(),
            peer_bad_segments: Counter::default(),
            segments_repaired: Counter::default(),
            store_write_seconds: zg_node::metrics::seconds(),
            store_used_bytes: Gauge::default(),
            store_segments: Gauge::default(),
            catalog_files: Gauge::default(),
            peers: Gauge::default(),
        }
    }

    /// A registry of every metric (and the network's, when networked).
    pub(crate) fn registry(&self, net: Option<&Network<FileProtocol>>) -> Registry {
        let mut r = Registry::default();
        let counters = [
            ("zg_storage_bytes_in", "Segment bytes accepted", &self.bytes_in),
            ("zg_storage_bytes_out", "Bytes served", &self.bytes_out),
            ("zg_storage_segments_in", "Segments accepted", &self.segments_in),
            ("zg_storage_segments_out", "Segments served", &self.segments_out),
            (
                "zg_storage_proof_failures",
                "Segments rejected for failing their proof",
                &self.proof_failures,
            ),
            (
                "zg_storage_rejected",
                "Requests refused by limits",
                &self.rejected,
            ),
            (
                "zg_storage_rpc_requests",
                "JSON-RPC HTTP requests",
                &self.rpc_requests,
            ),
            (
                "zg_storage_files_finalized",
                "Files completed",
                &self.files_finalized,
            ),
            (
                "zg_storage_replicated_files",
                "Files fetched whole from peers",
                &self.replicated_files,
            ),
            (
                "zg_storage_replicated_bytes",
                "Segment bytes fetched from peers",
                &self.replicated_bytes,
            ),
            (
                "zg_storage_replicated_http_bytes",
                "Segment bytes fetched from peers over their plain HTTP (the rest over libp2p)",
                &self.replicated_http_bytes,
            ),
            (
                "zg_storage_peer_requests",
                "Peer requests answered",
                &self.peer_requests,
            ),
            (
                "zg_storage_peer_bad_segments",
                "Peer answers refused for failing their proofs",
                &self.peer_bad_segments,
            ),
            (
                "zg_storage_segments_repaired",
                "Segments lost here and fetched again from peers",
                &self.segments_repaired,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register(
            "zg_store_write_seconds",
            "Durable store writes (group commits included)",
            self.store_write_seconds.clone(),
        );
        let gauges = [
            (
                "zg_store_used_bytes",
                "Bytes of the store's data files",
                &self.store_used_bytes,
            ),
            ("zg_store_segments", "Segments stored", &self.store_segments),
            (
                "zg_storage_catalog_files",
                "Files held whole",
                &self.catalog_files,
            ),
            ("zg_p2p_peers", "Storage peers in the network", &self.peers),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        if let Some(net) = net {
            net.stats().register(&mut r);
        }
        r
    }
}
