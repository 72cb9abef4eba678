//! zg-file's and zg-blob's decoders on arbitrary bytes: a file's metadata record and
//! packed DA blobs. A typed error or a value that re-encodes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_blob as blob;
use zg_file::FileMeta;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Metadata records name their root: use the first 32 bytes as it.
        if rest.len() < 32 {
            return;
        }
        let (root, bytes) = rest.split_at(32);
        let root: [u8; 32] = root.try_into().expect("32 bytes");
        if let Ok(meta) = FileMeta::decode(&root, bytes) {
            assert_eq!(meta.root(), root);
            assert_eq!(FileMeta::decode(&root, &meta.encode()).expect("re-decodes"), meta);
        }
    } else {
        // One or two blobs whose first bytes come from the input, the rest zero.
        let n = 1 + usize::from(mode >> 7);
        let mut blobs = vec![vec![0u8; zg_kzg::BYTES_PER_BLOB]; n];
        for (i, b) in rest.iter().take(4096).enumerate() {
            blobs[i % n][i / n] = *b;
        }
        if let Ok(payload) = blob::unpack(&blobs) {
            assert_eq!(blob::pack(&payload).expect("fits"), blobs);
        }
    }
});
