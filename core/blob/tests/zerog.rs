//! 0G DA's storage root: byte-equal with the roots 0G's own encoder gives
//! (`tests/data/zerog_roots.json`, from `0G-DA-ROOT-VECTORS.md`), equal to a plain
//! implementation written from the definition (the polynomial evaluated term by term,
//! a Keccak tree pair by pair) on small shapes, and to a case worked by hand.

use ark_bn254::Fr;
use ark_ff::{FftField, Field, PrimeField};
use sha2::{Digest, Sha256};
use sha3::Keccak256;
use zg_blob::zerog::{self, RootError, Shape};

/// The vectors' inputs: the first `n` bytes of SHA-256("zg-da-vector-{seed}-0") ‖ …-1 ‖ ….
fn vector_bytes(seed: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 32);
    let mut i = 0u64;
    while out.len() < n {
        out.extend_from_slice(&Sha256::digest(format!("zg-da-vector-{seed}-{i}").as_bytes()));
        i += 1;
    }
    out.truncate(n);
    out
}

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut out).unwrap();
    out
}

fn vector_input(entry: &serde_json::Value) -> Vec<u8> {
    let n = entry["len"].as_u64().unwrap() as usize;
    match entry["input"].as_str().unwrap() {
        "zeros" => vec![0; n],
        "ff" => vec![0xff; n],
        seed => vector_bytes(seed, n),
    }
}

fn vectors() -> Vec<serde_json::Value> {
    let text = include_str!("data/zerog_roots.json");
    serde_json::from_str::<serde_json::Value>(text).unwrap()["vectors"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn roots_equal_0gs_encoder_on_every_vector() {
    for entry in vectors() {
        let data = vector_input(&entry);
        let root = zerog::storage_root(&data).unwrap();
        assert_eq!(
            hex::encode(root),
            entry["root"].as_str().unwrap().trim_start_matches("0x"),
            "{entry}"
        );
        if let Some(cosets) = entry["cosets"].as_array() {
            let roots = zerog::coset_roots(Shape::ZEROG, &data).unwrap();
            for (got, want) in roots.iter().zip(cosets) {
                assert_eq!(*got, hex32(want.as_str().unwrap()), "{entry}");
            }
        }
    }
}

/// 0G-DA-WIRE.md: the root is also 0G Storage's file root of the three cosets' bytes.
#[test]
fn the_root_is_0g_storages_file_root_of_the_encoded_blob() {
    let data = vector_bytes("b", 1000);
    let cosets = zerog::encode(Shape::ZEROG, &data).unwrap();
    let bytes: Vec<u8> = cosets.iter().flat_map(|c| zerog::coset_bytes(c)).collect();
    assert_eq!(bytes.len(), 96 << 20);
    let file_root = zg_merkle::keccak_tree::KeccakTree::from_data_par(&bytes).root();
    assert_eq!(file_root, zerog::storage_root(&data).unwrap());
}

#[test]
fn sizes_outside_1_to_the_maximum_are_refused() {
    assert_eq!(zerog::MAX_DATA, 32_505_852);
    assert_eq!(zerog::storage_root(&[]), Err(RootError::Empty));
    assert_eq!(
        zerog::storage_root(&vec![0; zerog::MAX_DATA + 1]),
        Err(RootError::TooLarge {
            len: zerog::MAX_DATA + 1,
            max: zerog::MAX_DATA
        })
    );
    let bad = Shape {
        log_rows: 14,
        log_cols: 14,
    };
    assert!(matches!(
        zerog::storage_root_in(bad, &[1]),
        Err(RootError::BadShape { .. })
    ));
}

// ---- the plain definition -------------------------------------------------------------

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A binary Keccak tree over 256-byte leaves (a power-of-two count of them).
fn plain_tree(bytes: &[u8]) -> [u8; 32] {
    let mut level: Vec<[u8; 32]> = bytes.chunks(256).map(|s| keccak(&[s])).collect();
    assert!(level.len().is_power_of_two());
    while level.len() > 1 {
        level = level.chunks(2).map(|p| keccak(&[&p[0], &p[1]])).collect();
    }
    level[0]
}

/// `k` with its lowest `bits` bits in reverse order, by spelling it out.
fn reversed(k: usize, bits: u32) -> u64 {
    let text: String = format!("{k:0width$b}", width = bits as usize)
        .chars()
        .rev()
        .collect();
    u64::from_str_radix(&text, 2).unwrap()
}

/// The root from the definition: pad, units to scalars, evaluations read column by
/// column, coefficients by the inverse transform term by term, each coset's values by
/// evaluating the polynomial at every shifted point, rows back, a Keccak tree per coset.
fn plain_root(shape: Shape, data: &[u8]) -> [u8; 32] {
    let (rows, cols) = (1usize << shape.log_rows, 1usize << shape.log_cols);
    let n = rows * cols;
    let mut raw = vec![0u8; n * 31];
    raw[..data.len()].copy_from_slice(data);
    let len = raw.len();
    raw[len - 4..].copy_from_slice(&(data.len() as u32).to_le_bytes());
    let scalars: Vec<Fr> = raw.chunks(31).map(Fr::from_le_bytes_mod_order).collect();
    let evaluations: Vec<Fr> = (0..n).map(|j| scalars[(j % rows) * cols + j / rows]).collect();
    let depth = shape.log_rows + shape.log_cols;
    let omega = Fr::TWO_ADIC_ROOT_OF_UNITY.pow([1u64 << (28 - depth)]);
    assert_eq!(omega.pow([n as u64]), Fr::ONE);
    let n_inv = Fr::from(n as u64).inverse().unwrap();
    let coefficients: Vec<Fr> = (0..n)
        .map(|i| {
            let w = omega.inverse().unwrap().pow([i as u64]);
            evaluations
                .iter()
                .enumerate()
                .map(|(j, e)| *e * w.pow([j as u64]))
                .sum::<Fr>()
                * n_inv
        })
        .collect();
    let roots: Vec<[u8; 32]> = (0..3)
        .map(|k| {
            let shift = Fr::TWO_ADIC_ROOT_OF_UNITY.pow([reversed(k, 28 - depth)]);
            let values: Vec<Fr> = (0..n)
                .map(|j| {
                    let x = shift * omega.pow([j as u64]);
                    coefficients
                        .iter()
                        .enumerate()
                        .map(|(i, c)| *c * x.pow([i as u64]))
                        .sum()
                })
                .collect();
            let mut bytes = Vec::new();
            for r in 0..rows {
                for c in 0..cols {
                    let mut word = [0u8; 32];
                    let le = values[c * rows + r].into_bigint().to_bytes_le_vec();
                    word[..le.len()].copy_from_slice(&le);
                    bytes.extend_from_slice(&word);
                }
            }
            plain_tree(&bytes)
        })
        .collect();
    keccak(&[&keccak(&[&roots[0], &roots[1]]), &roots[2]])
}

trait LeBytes {
    fn to_bytes_le_vec(&self) -> Vec<u8>;
}

impl LeBytes for <Fr as PrimeField>::BigInt {
    fn to_bytes_le_vec(&self) -> Vec<u8> {
        ark_ff::BigInteger::to_bytes_le(self)
    }
}

#[test]
fn small_shapes_equal_the_plain_definition() {
    for (log_rows, log_cols) in [(0, 3), (2, 3), (3, 2), (3, 3)] {
        let shape = Shape { log_rows, log_cols };
        for data in [
            vec![1u8],
            vector_bytes("s", 97),
            vector_bytes("t", shape.max_data()),
            vec![0xff; shape.max_data()],
        ] {
            assert_eq!(
                zerog::storage_root_in(shape, &data).unwrap(),
                plain_root(shape, &data),
                "shape {shape:?}, {} bytes",
                data.len()
            );
        }
    }
}

/// One row of two scalars, worked by hand. Data `[1]`: the raw blob is 62 bytes, unit 0
/// holds 1 and unit 1 holds the length 1 at its byte 27, so a = 1 and b = 2^216. The
/// subgroup of order 2 is {1, −1}, so p(x) = (a + b)/2 + (a − b)/2 · x. Coset 1 is shifted
/// by ω₂₈^bitreverse(1, 27) = ω₂₈^(2^26), a square root of −1; coset 2 by ω₂₈^(2^25), an
/// 8th root of unity; each coset holds p(s), p(−s).
#[test]
fn a_one_by_two_blob_worked_by_hand() {
    let shape = Shape {
        log_rows: 0,
        log_cols: 1,
    };
    let [c0, c1, c2] = zerog::encode(shape, &[1]).unwrap();
    let a = Fr::ONE;
    let b = Fr::from(2u64).pow([216u64]);
    assert_eq!(c0, vec![a, b]);
    let half = Fr::from(2u64).inverse().unwrap();
    let p = |x: Fr| (a + b) * half + (a - b) * half * x;
    let i = Fr::TWO_ADIC_ROOT_OF_UNITY.pow([1u64 << 26]);
    assert_eq!(i * i, -Fr::ONE);
    assert_eq!(shape.coset_shift(1), i);
    assert_eq!(c1, vec![p(i), p(-i)]);
    let e = Fr::TWO_ADIC_ROOT_OF_UNITY.pow([1u64 << 25]);
    assert_eq!(e * e, i);
    assert_eq!(c2, vec![p(e), p(-e)]);
}

// ---- signatures ------------------------------------------------------------------------

mod bls {
    use ark_bn254::{Fq, G1Affine};
    use ark_ec::AffineRepr;
    use ark_ff::{BigInteger, PrimeField};
    use zg_blob::zerog_bls::{self as bls, SecretKey};

    fn fq(text: &str) -> Fq {
        let digits = text.trim_start_matches("0x");
        let padded = format!("{digits:0>64}");
        Fq::from_be_bytes_mod_order(&hex::decode(padded).unwrap())
    }

    fn point(v: &serde_json::Value) -> G1Affine {
        G1Affine::new(fq(v[0].as_str().unwrap()), fq(v[1].as_str().unwrap()))
    }

    fn word(text: &str) -> [u8; 32] {
        let padded = format!("{:0>64}", text.trim_start_matches("0x"));
        hex::decode(padded).unwrap().try_into().unwrap()
    }

    /// Digests, hash-to-G1, signatures and both public keys equal py_ecc's
    /// (`tests/data/zerog_bls_vectors.py`), and every signature verifies.
    #[test]
    fn signatures_equal_py_ecc_and_verify() {
        let text = include_str!("data/zerog_bls.json");
        let vectors: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut sigs = Vec::new();
        let mut keys = Vec::new();
        for v in vectors["vectors"].as_array().unwrap() {
            let root = word(v["root"].as_str().unwrap());
            let commitment = point(&v["commitment"]);
            let digest = bls::blob_digest(
                &root,
                v["epoch"].as_u64().unwrap(),
                v["quorum_id"].as_u64().unwrap(),
                &commitment,
            );
            assert_eq!(hex::encode(digest), v["digest"].as_str().unwrap());
            assert_eq!(bls::hash_to_g1(&digest), point(&v["h"]));
            let sk = SecretKey::from_bytes(&word(v["secret"].as_str().unwrap())).unwrap();
            let sig = sk.sign(&digest);
            assert_eq!(sig, point(&v["signature"]));
            assert_eq!(sk.public_g1(), point(&v["pk_g1"]));
            let g2 = sk.public_g2();
            let (x, y) = g2.xy().unwrap();
            let eip197 = [x.c1, x.c0, y.c1, y.c0].map(|c| hex::encode(c.into_bigint().to_bytes_be()));
            let want: Vec<String> = v["pk_g2"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|pair| {
                    pair.as_array()
                        .unwrap()
                        .iter()
                        .map(|c| format!("{:0>64}", c.as_str().unwrap().trim_start_matches("0x")))
                })
                .collect();
            assert_eq!(eip197.to_vec(), want);
            assert!(bls::verify(&g2, &digest, &sig));
            let mut other = digest;
            other[0] ^= 1;
            assert!(
                !bls::verify(&g2, &other, &sig),
                "a signature verifies another digest"
            );
            sigs.push((digest, sig));
            keys.push((sk, g2));
        }
        // Many signers of one digest: the sum of signatures verifies against the sum of keys.
        let digest = sigs[0].0;
        let signatures: Vec<G1Affine> = keys.iter().map(|(sk, _)| sk.sign(&digest)).collect();
        let public: Vec<_> = keys.iter().map(|(_, pk)| *pk).collect();
        let aggregate = bls::aggregate_signatures(&signatures);
        assert!(bls::verify(&bls::aggregate_keys(&public), &digest, &aggregate));
        assert!(
            !bls::verify(&bls::aggregate_keys(&public[1..]), &digest, &aggregate),
            "a missing signer's share passes"
        );
    }

    #[test]
    fn registration_digest_is_signer_chain_id_and_domain() {
        let signer = [0x11u8; 20];
        let mut message = signer.to_vec();
        message.extend_from_slice(&[0u8; 24]);
        message.extend_from_slice(&31337u64.to_be_bytes());
        message.extend_from_slice(b"0G_BN254_Pubkey_Registration");
        use sha3::Digest as _;
        let want: [u8; 32] = sha3::Keccak256::digest(&message).into();
        assert_eq!(bls::registration_digest(&signer, 31337), want);
        assert!(SecretKey::from_bytes(&[0; 32]).is_none());
    }

    fn key(n: u8) -> SecretKey {
        SecretKey::from_bytes(&[n; 32]).unwrap()
    }

    /// A quorum certificate verifies with both aggregate halves of its signers, and not
    /// with a forged signature, a missing signer, or halves of different secrets.
    #[test]
    fn certificates_verify_only_with_matching_halves() {
        let digest = [7u8; 32];
        let keys: Vec<SecretKey> = (1..=3).map(key).collect();
        let sigma = bls::aggregate_signatures(&keys.iter().map(|k| k.sign(&digest)).collect::<Vec<_>>());
        let apk1 = bls::aggregate_signatures(&keys.iter().map(|k| k.public_g1()).collect::<Vec<_>>());
        let apk2 = bls::aggregate_keys(&keys.iter().map(|k| k.public_g2()).collect::<Vec<_>>());
        assert!(bls::verify_certificate(&digest, &apk1, &apk2, &sigma));
        let mut other = digest;
        other[0] ^= 1; // try-and-increment maps neighbouring digests to one point
        assert!(!bls::verify_certificate(&other, &apk1, &apk2, &sigma));
        let forged = bls::aggregate_signatures(&[sigma, key(9).sign(&digest)]);
        assert!(!bls::verify_certificate(&digest, &apk1, &apk2, &forged));
        let two1 = bls::aggregate_signatures(&[keys[0].public_g1(), keys[1].public_g1()]);
        assert!(!bls::verify_certificate(&digest, &two1, &apk2, &sigma));
        let two2 = bls::aggregate_keys(&[keys[0].public_g2(), keys[1].public_g2()]);
        assert!(!bls::verify_certificate(&digest, &apk1, &two2, &sigma));
        assert!(!bls::verify_certificate(
            &digest,
            &G1Affine::identity(),
            &apk2,
            &sigma
        ));
        assert!(bls::keys_match(&keys[0].public_g1(), &keys[0].public_g2()));
        assert!(!bls::keys_match(&keys[0].public_g1(), &keys[1].public_g2()));
    }

    /// Points read back from their words; non-canonical, off-curve words are refused.
    #[test]
    fn point_words_round_trip_and_refuse_bad_points() {
        let k = key(5);
        let (x, y) = bls::g1_words(&k.public_g1());
        assert_eq!(bls::g1_from_words(&x, &y), Some(k.public_g1()));
        assert_eq!(bls::g1_from_words(&[0; 32], &[0; 32]), Some(G1Affine::identity()));
        let mut off = y;
        off[31] ^= 1;
        assert_eq!(bls::g1_from_words(&x, &off), None, "off the curve");
        // p itself: x = 0 + p is the same element written non-canonically.
        let p = word("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47");
        assert_eq!(bls::g1_from_words(&p, &y), None, "a coordinate not below p");
        let [x0, x1, y0, y1] = bls::g2_words(&k.public_g2());
        assert_eq!(bls::g2_from_words(&x0, &x1, &y0, &y1), Some(k.public_g2()));
        assert_eq!(bls::g2_from_words(&x1, &x0, &y1, &y0), None, "halves swapped");
        let mut bad = y1;
        bad[31] ^= 1;
        assert_eq!(bls::g2_from_words(&x0, &x1, &y0, &bad), None);
    }

    #[test]
    fn epoch_registration_digest_is_signer_epoch_and_chain_id() {
        let signer = [0x22u8; 20];
        let mut message = signer.to_vec();
        message.extend_from_slice(&5u64.to_be_bytes());
        message.extend_from_slice(&[0u8; 24]);
        message.extend_from_slice(&16600u64.to_be_bytes());
        use sha3::Digest as _;
        let want: [u8; 32] = sha3::Keccak256::digest(&message).into();
        assert_eq!(bls::epoch_registration_digest(&signer, 5, 16600), want);
    }
}
