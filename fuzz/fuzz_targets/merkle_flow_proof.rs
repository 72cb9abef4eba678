//! Flow proof verification and flow appends with arbitrary parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zg_merkle::flow::{FlowTree, verify_node};
use zg_merkle::keccak_tree::{KeccakProof, SubmissionNode};

fuzz_target!(|input: &[u8]| {
    if input.len() < 20 {
        return;
    }
    let height = u32::from(input[0]);
    let start = u64::from_le_bytes(input[1..9].try_into().unwrap());
    let length = u64::from_le_bytes(input[9..17].try_into().unwrap());
    let mut flow = FlowTree::new();
    // Submissions of arbitrary heights: errors are fine, panics are not.
    for w in input[17..20].iter() {
        let nodes = [SubmissionNode {
            root: [*w; 32],
            height: u32::from(*w % 70),
        }];
        let _ = flow.append_submission(&nodes);
    }
    let _ = flow.prove_node(height, start, length);
    let _ = flow.root_at(length);
    if let Ok(proof) = KeccakProof::from_bytes(&input[20..]) {
        let _ = verify_node(&proof, &flow.root(), &proof.lemma()[0], height, start, length);
    }
});
