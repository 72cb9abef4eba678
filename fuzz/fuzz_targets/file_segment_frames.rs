//! A storage node's binary segment upload (`POST /segments`) on arbitrary bytes:
//! never a panic, never more frames than allowed, and what decodes re-encodes to
//! the same bytes (one encoding per body).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_file::frames;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the frame limit, the rest is the body (with and without the magic).
    let Some((&limit, rest)) = input.split_first() else { return };
    let limit = usize::from(limit % 8);
    let mut with_magic = frames::new_body(rest.len());
    with_magic.extend_from_slice(rest);
    for body in [rest, &with_magic[..]] {
        let Ok(decoded) = frames::decode(body, limit) else { continue };
        assert!(decoded.len() <= limit);
        let mut again = frames::new_body(body.len());
        for f in &decoded {
            assert!(f.proof.len() <= frames::MAX_PROOF);
            frames::push_header(&mut again, &f.root, f.file_size, f.index, f.proof, f.data.len());
            again.extend_from_slice(f.data);
        }
        assert_eq!(again, body);
    }
});
