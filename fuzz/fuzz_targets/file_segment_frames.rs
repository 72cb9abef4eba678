//! A storage node's binary segment upload (`POST /segments`) and a replica's bulk
//! fetch (`GET /segments`, read piece by piece) on arbitrary bytes: never a panic,
//! never more frames than allowed, what decodes re-encodes to the same bytes (one
//! encoding per body), and the piecewise reader agrees with `decode` on any chunking.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zg_file::frames::{self, FrameReader, ReadError};

/// Runs a future that never waits (its chunks are all there) to its end.
fn now<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("a reader of ready chunks waited"),
    }
}

fuzz_target!(|input: &[u8]| {
    // The first byte picks the frame limit, the second the chunk size, the rest is
    // the body (with and without the magic).
    let Some((&limit, rest)) = input.split_first() else {
        return;
    };
    let Some((&cut, rest)) = rest.split_first() else {
        return;
    };
    let limit = usize::from(limit % 8);
    let mut with_magic = frames::new_body(rest.len());
    with_magic.extend_from_slice(rest);
    for body in [rest, &with_magic[..]] {
        let Ok(decoded) = frames::decode(body, limit) else {
            continue;
        };
        assert!(decoded.len() <= limit);
        let mut again = frames::new_body(body.len());
        for f in &decoded {
            assert!(f.proof.len() <= frames::MAX_PROOF);
            frames::push_header(&mut again, &f.root, f.file_size, f.index, f.proof, f.data.len());
            again.extend_from_slice(f.data);
        }
        assert_eq!(again, body);
    }

    // The reader, asked for what the first frame names and as many frames as decode finds.
    let cut = usize::from(cut).max(1) * 37;
    let whole = frames::decode(&with_magic, 64);
    let (root, size, first, n) = match &whole {
        Ok(f) if !f.is_empty() => (f[0].root, f[0].file_size, f[0].index, f.len()),
        Ok(_) => ([0; 32], 0, 0, 0),
        Err(_) => ([0; 32], 0, 0, 1),
    };
    let chunks: Vec<Result<Bytes, String>> = with_magic
        .chunks(cut)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let read = now(
        FrameReader::new(futures_util::stream::iter(chunks), frames::body_limit(n))
            .segments(&root, size, first, n),
    );
    match (whole, read) {
        (Ok(f), Ok(r)) => {
            assert_eq!(f.len(), r.len());
            for (a, b) in f.iter().zip(&r) {
                assert_eq!(a.proof, &b.proof[..]);
                assert_eq!(a.data, &b.data[..]);
            }
        }
        (Ok(f), Err(e)) => {
            // Refused only for a frame of another file or out of order.
            assert!(matches!(e, ReadError::Bad(_)), "{e}");
            let in_order = f
                .iter()
                .zip(0u64..)
                .all(|(x, j)| x.root == root && x.file_size == size && first.checked_add(j) == Some(x.index));
            assert!(!in_order, "the reader refused what decode takes: {e}");
        }
        (Err(_), Ok(_)) => panic!("the reader took what decode refuses"),
        (Err(_), Err(_)) => {}
    }
});
