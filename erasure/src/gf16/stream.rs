//! Streaming encode (a reader in, one shard stream per index out) and
//! decode (any shard streams in, the payload out) for payloads larger than memory.

use std::io::{ErrorKind, Read, Write};

use rayon::prelude::*;

use super::borrowed::{EncodeBuffers, encode_stripes};
use super::header::stripe_count;
use super::{Body, Gf16Code, HEADER_LEN, ShardHeader, decode_stripe};
use crate::{ErasureError, Result};

/// What a streaming decode wrote and what it had to skip.
#[derive(Debug, Default)]
pub struct StreamDecodeSummary {
    /// Payload bytes written.
    pub bytes: u64,
    /// Shards refused (corrupt, foreign, unreadable), each naming the shard.
    pub rejected: Vec<ErasureError>,
}

/// Stripes handled per batch: enough to keep every rayon thread busy.
fn batch_stripes() -> usize {
    2 * rayon::current_num_threads()
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Gf16Code {
    /// Encodes exactly `payload_len` bytes from `reader`, writing shard `i`
    /// of every stripe, in stripe order, to `sinks[i]` (`k + m` sinks).
    /// Memory stays at a few stripes per thread.
    pub fn encode_stream<R: Read, W: Write>(
        &self,
        mut reader: R,
        payload_len: u64,
        payload_id: &[u8; 32],
        sinks: &mut [W],
    ) -> Result<()> {
        let n = self.k() + self.m();
        if sinks.len() != n {
            return Err(ErasureError::StreamCount {
                expected: n,
                got: sinks.len(),
            });
        }
        let template = self.header(payload_len, payload_id);
        let stripe_bytes = self.k() * template.shard_len as usize;
        let stripes = stripe_count(payload_len, self.k, template.shard_len);
        let mut buf = vec![0u8; stripe_bytes * batch_stripes()];
        // Headers and recovery bodies reused from batch to batch; originals stay in `buf`.
        let mut buffers = EncodeBuffers::default();
        let mut read = 0u64;
        let mut stripe = 0u64;
        while stripe < stripes {
            let batch = (stripes - stripe).min(batch_stripes() as u64) as usize;
            let want = (payload_len - read).min((batch * stripe_bytes) as u64) as usize;
            let got = read_full(&mut reader, &mut buf[..want])?;
            read += got as u64;
            if got < want {
                return Err(ErasureError::PayloadLength {
                    expected: payload_len,
                    got: read,
                });
            }
            let shards = encode_stripes(&template, stripe, batch, &buf[..want], buffers)?;
            for (i, shard) in shards.iter().enumerate() {
                shard.write_to(&mut sinks[i % n])?;
            }
            buffers = shards.into_buffers();
            stripe += batch as u64;
        }
        // The announced length must be the whole stream.
        if read_full(&mut reader, &mut [0u8; 1])? != 0 {
            return Err(ErasureError::PayloadLength {
                expected: payload_len,
                got: read + 1,
            });
        }
        for sink in sinks.iter_mut() {
            sink.flush()?;
        }
        Ok(())
    }
}

/// Intact shards `(index, body)` of one stripe.
type StripeShards = Vec<(u32, Vec<u8>)>;

/// Decodes a payload from shard streams written by
/// [`Gf16Code::encode_stream`] (any subset, any order), writing it to `out`.
///
/// A corrupt shard is skipped for its stripe; a stream whose header is
/// invalid, foreign or out of step is dropped. Decoding fails with
/// [`ErasureError::TooFewShards`] naming the first stripe left with fewer
/// than `k` intact shards.
pub fn decode_stream<R: Read, W: Write>(sources: Vec<R>, mut out: W) -> Result<StreamDecodeSummary> {
    // A stream is dropped (None) once its framing can no longer be trusted.
    let mut sources: Vec<Option<R>> = sources.into_iter().map(Some).collect();
    let mut summary = StreamDecodeSummary::default();
    let mut params: Option<ShardHeader> = None;
    let mut stripe = 0u64;
    let mut header_buf = [0u8; HEADER_LEN];
    loop {
        if let Some(p) = &params
            && stripe >= stripe_count(p.payload_len, p.k, p.shard_len)
        {
            break;
        }
        // Read a batch of stripes: one record per live source per stripe.
        let mut batch: Vec<(u64, StripeShards)> = Vec::new();
        for _ in 0..batch_stripes() {
            if let Some(p) = &params
                && stripe >= stripe_count(p.payload_len, p.k, p.shard_len)
            {
                break;
            }
            let mut shards = Vec::new();
            for source in &mut sources {
                let Some(reader) = source.as_mut() else { continue };
                match read_record(reader, &mut header_buf, &mut params, stripe) {
                    Ok(Some((index, body))) => {
                        if params.is_some_and(|p| shards.len() < p.k as usize) {
                            shards.push((index, body));
                        }
                    }
                    Ok(None) => *source = None,
                    Err(e @ ErasureError::CorruptShard { .. }) => summary.rejected.push(e),
                    Err(e) => {
                        summary.rejected.push(e);
                        *source = None;
                    }
                }
            }
            let Some(p) = &params else {
                return Err(summary.rejected.pop().unwrap_or(ErasureError::NoShards));
            };
            if shards.len() < p.k as usize {
                return Err(ErasureError::TooFewShards {
                    stripe,
                    have: shards.len() as u64,
                    need: u64::from(p.k),
                });
            }
            batch.push((stripe, shards));
            stripe += 1;
        }
        let Some(p) = params else { break };
        let stripe_bytes = p.k as usize * p.shard_len as usize;
        let decoded: Vec<Vec<u8>> = batch
            .par_iter()
            .map(|(s, shards)| {
                let start = s * stripe_bytes as u64;
                let len = (p.payload_len - start.min(p.payload_len)).min(stripe_bytes as u64) as usize;
                let mut buf = vec![0u8; len];
                let refs: Vec<Body<'_>> = shards.iter().map(|(i, b)| Body::checked(*i, b)).collect();
                decode_stripe(&p, *s, &refs, &mut buf).map(|()| buf)
            })
            .collect::<Result<_>>()?;
        for buf in decoded {
            out.write_all(&buf)?;
            summary.bytes += buf.len() as u64;
        }
    }
    out.flush()?;
    Ok(summary)
}

/// Reads the next record of one stream: `Ok(None)` at its end, `Ok(Some)`
/// for an intact shard of `stripe`, an error for anything else (a
/// [`ErasureError::CorruptShard`] leaves the stream in step).
fn read_record(
    reader: &mut impl Read,
    header_buf: &mut [u8; HEADER_LEN],
    params: &mut Option<ShardHeader>,
    stripe: u64,
) -> Result<Option<(u32, Vec<u8>)>> {
    if read_full(reader, header_buf)? < HEADER_LEN {
        return Ok(None);
    }
    let header = ShardHeader::parse(header_buf)?;
    if let Some(p) = params.as_ref()
        && let Some(field) = p.foreign_field(&header)
    {
        return Err(ErasureError::ForeignShard {
            stripe: header.stripe,
            index: header.index,
            field,
        });
    }
    if header.stripe != stripe {
        return Err(ErasureError::InvalidHeader(
            "shard stream is out of step: unexpected stripe",
        ));
    }
    // The length was validated (at most 16 MiB) before this allocation.
    let mut body = vec![0u8; header.shard_len as usize];
    let got = read_full(reader, &mut body)?;
    if got < body.len() {
        return Err(ErasureError::BodyLength {
            expected: u64::from(header.shard_len),
            got: got as u64,
        });
    }
    header.verify(&body)?;
    params.get_or_insert(header);
    Ok(Some((header.index, body)))
}
