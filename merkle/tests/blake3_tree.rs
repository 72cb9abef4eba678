//! BLAKE3 tree: roots equal `blake3::hash`, proofs verify, every bit flip fails.

use rand::{Rng, RngCore, SeedableRng, rngs::StdRng};
use zg_merkle::blake3_tree::{Blake3Proof, Blake3Tree, Blake3TreeBuilder};
use zg_merkle::{MerkleError, SEGMENT_SIZE};

const SEG: usize = SEGMENT_SIZE;

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

const SIZES: &[usize] = &[
    0,
    1,
    1023,
    1024,
    1025,
    SEG - 1,
    SEG,
    SEG + 1,
    2 * SEG,
    3 * SEG - 1,
    3 * SEG + 7,
    5 * SEG + 1024,
    (7 << 20) + 12345,
];

#[test]
fn roots_equal_blake3_hash() {
    for &len in SIZES {
        let d = data(len, len as u64);
        let expected = *blake3::hash(&d).as_bytes();
        assert_eq!(Blake3Tree::from_data(&d).root(), expected, "serial, len {len}");
        assert_eq!(
            Blake3Tree::from_data_par(&d).root(),
            expected,
            "parallel, len {len}"
        );
    }
}

#[test]
fn incremental_equals_one_shot_for_any_split() {
    let mut rng = StdRng::seed_from_u64(7);
    for &len in SIZES {
        let d = data(len, 100 + len as u64);
        let one_shot = Blake3Tree::from_data(&d);
        for parallel in [false, true] {
            let mut b = Blake3TreeBuilder::new().parallel(parallel);
            let mut rest = &d[..];
            while !rest.is_empty() {
                let take = rng.random_range(1..=rest.len().min(3 * SEG + 5));
                b.update(&rest[..take]);
                rest = &rest[take..];
            }
            assert_eq!(b.len(), len as u64);
            assert_eq!(b.finalize(), one_shot, "len {len} parallel {parallel}");
        }
    }
}

#[test]
fn builder_batches_past_sixteen_mib() {
    // More than one 16 MiB batch, fed in small pieces so the buffered path runs.
    let d = data(40 * SEG + 3, 5);
    let mut b = Blake3TreeBuilder::new();
    for piece in d.chunks(100_000) {
        b.update(piece);
    }
    assert_eq!(b.finalize().root(), *blake3::hash(&d).as_bytes());
}

fn segment(d: &[u8], i: u64) -> &[u8] {
    let lo = (i as usize * SEG).min(d.len());
    let hi = ((i as usize + 1) * SEG).min(d.len());
    &d[lo..hi]
}

#[test]
fn every_segment_and_range_proof_verifies() {
    for &len in SIZES {
        let d = data(len, 9 + len as u64);
        let tree = Blake3Tree::from_data(&d);
        let root = tree.root();
        let n = tree.segment_count();
        for i in 0..n {
            let proof = tree.prove_segment(i).unwrap();
            assert!(
                proof
                    .verify_segment(&root, len as u64, i, segment(&d, i))
                    .unwrap(),
                "len {len} seg {i}"
            );
            let decoded = Blake3Proof::from_bytes(&proof.to_bytes()).unwrap();
            assert_eq!(decoded, proof);
        }
        if n <= 9 {
            for start in 0..n {
                for end in start + 1..=n {
                    let proof = tree.prove_range(start, end).unwrap();
                    let lo = (start as usize * SEG).min(d.len());
                    let hi = (end as usize * SEG).min(d.len());
                    assert!(
                        proof.verify(&root, len as u64, &d[lo..hi]).unwrap(),
                        "len {len} {start}..{end}"
                    );
                }
            }
        }
    }
}

/// Flips every bit of data, encoded proof and root: none may verify.
#[test]
fn every_single_bit_flip_fails() {
    for len in [1000, SEG, 3 * SEG + 5] {
        let d = data(len, 77);
        let tree = Blake3Tree::from_data(&d);
        let root = tree.root();
        let n = tree.segment_count();
        let i = n / 2;
        let seg = segment(&d, i).to_vec();
        let proof = tree.prove_segment(i).unwrap();
        let bytes = proof.to_bytes();

        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let ok = Blake3Proof::from_bytes(&b).and_then(|p| p.verify_segment(&root, len as u64, i, &seg));
            assert!(!matches!(ok, Ok(true)), "proof bit {bit} flipped still verifies");
        }
        for bit in (0..seg.len() * 8).step_by(997) {
            let mut s = seg.clone();
            s[bit / 8] ^= 1 << (bit % 8);
            assert!(!proof.verify_segment(&root, len as u64, i, &s).unwrap());
        }
        for bit in 0..256 {
            let mut r = root;
            r[bit / 8] ^= 1 << (bit % 8);
            assert!(!proof.verify_segment(&r, len as u64, i, &seg).unwrap());
        }
    }
}

#[test]
fn last_segment_authenticates_the_length() {
    let d = data(4 * SEG, 3);
    let tree = Blake3Tree::from_data(&d);
    let root = tree.root();
    // Claim the file is three segments: the (claimed) last segment cannot verify.
    let short = 3 * SEG as u64;
    let fake = Blake3Tree::from_data(&d[..3 * SEG]).prove_segment(2).unwrap();
    assert!(!fake.verify_segment(&root, short, 2, segment(&d, 2)).unwrap());
}

#[test]
fn outboard_round_trips_and_detects_corruption() {
    for &len in SIZES {
        let d = data(len, 31);
        let tree = Blake3Tree::from_data(&d);
        let ob = tree.to_outboard();
        assert_eq!(Blake3Tree::from_outboard(&ob).unwrap(), tree);
        if tree.segment_count() >= 2 {
            let mut bad = ob.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(Blake3Tree::from_outboard(&bad), Err(MerkleError::CorruptOutboard));
        }
        assert!(matches!(
            Blake3Tree::from_outboard(&ob[..ob.len() - 1]),
            Err(MerkleError::Truncated { .. } | MerkleError::WrongNodeCount { .. })
        ));
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let d = data(3 * SEG + 1, 1);
    let tree = Blake3Tree::from_data(&d);
    let root = tree.root();
    let len = d.len() as u64;
    assert!(matches!(
        tree.prove_segment(4),
        Err(MerkleError::IndexOutOfRange { index: 4, count: 4 })
    ));
    assert!(matches!(
        tree.prove_range(2, 2),
        Err(MerkleError::InvalidRange { .. })
    ));
    assert!(matches!(
        tree.prove_segment(u64::MAX),
        Err(MerkleError::InvalidRange { .. })
    ));

    let proof = tree.prove_segment(1).unwrap();
    let bytes = proof.to_bytes();
    // Truncated anywhere.
    for cut in 0..bytes.len() {
        assert!(Blake3Proof::from_bytes(&bytes[..cut]).is_err());
    }
    // Trailing garbage.
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        Blake3Proof::from_bytes(&long),
        Err(MerkleError::TrailingBytes { .. })
    ));
    // A huge count is refused before allocating.
    let mut huge = bytes[..17].to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Blake3Proof::from_bytes(&huge),
        Err(MerkleError::CountTooLarge { .. })
    ));
    // Wrong data length, wrong segment, proof for another index.
    assert!(matches!(
        proof.verify_segment(&root, len, 1, &d[..10]),
        Err(MerkleError::DataLength { .. })
    ));
    assert!(matches!(
        proof.verify_segment(&root, len, 2, segment(&d, 2)),
        Err(MerkleError::RangeMismatch { .. })
    ));
    // A file length that makes the range out of bounds.
    assert!(matches!(
        proof.verify(&root, 100, segment(&d, 1)),
        Err(MerkleError::IndexOutOfRange { .. })
    ));
    // A length with another shape: the node count no longer fits.
    let other_shape = 9 * SEG as u64;
    assert!(matches!(
        proof.verify(&root, other_shape, segment(&d, 1)),
        Err(MerkleError::WrongNodeCount { .. })
    ));
}
