//! Every official test vector (consensus-specs, as shipped with c-kzg):
//! an `Ok` must equal the expected output, a verifier's `Ok(false)` is
//! "proof invalid", and any error must meet an expected `null`.

use serde_json::Value;
use zg_kzg::{KzgContext, compute_challenge, compute_verify_cell_kzg_proof_batch_challenge};

struct Vectors {
    cases: Vec<Value>,
    strings: Vec<u8>,
}

fn load() -> Vectors {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
    let cases = std::fs::read_to_string(format!("{dir}/cases.json")).expect("cases.json is in the repo");
    let strings = std::fs::read(format!("{dir}/strings.bin")).expect("strings.bin is in the repo");
    Vectors {
        cases: serde_json::from_str::<Value>(&cases)
            .unwrap()
            .as_array()
            .unwrap()
            .clone(),
        strings,
    }
}

impl Vectors {
    /// Bytes of a hex string or a reference into strings.bin.
    fn bytes(&self, v: &Value) -> Vec<u8> {
        if let Some(r) = v.get("ref") {
            let (off, len) = (r[0].as_u64().unwrap() as usize, r[1].as_u64().unwrap() as usize);
            return self.strings[off..off + len].to_vec();
        }
        let s = v.as_str().unwrap_or_else(|| panic!("not a hex string: {v}"));
        hex::decode(s.trim_start_matches("0x")).unwrap()
    }

    fn list(&self, v: &Value) -> Vec<Vec<u8>> {
        v.as_array().unwrap().iter().map(|x| self.bytes(x)).collect()
    }
}

fn ints(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// The output as the vectors spell it: hex strings, lists, booleans or null.
fn to_json<T: AsRef<[u8]>>(items: &[T]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|x| Value::String(format!("0x{}", hex::encode(x.as_ref()))))
            .collect(),
    )
}

fn hex32(x: &[u8]) -> Value {
    Value::String(format!("0x{}", hex::encode(x)))
}

fn run_case(ctx: &KzgContext, v: &Vectors, function: &str, input: &Value) -> Result<Value, zg_kzg::KzgError> {
    let b = |k: &str| v.bytes(&input[k]);
    Ok(match function {
        "blob_to_kzg_commitment" => hex32(&ctx.blob_to_kzg_commitment(&b("blob"))?),
        "compute_kzg_proof" => {
            let (proof, y) = ctx.compute_kzg_proof(&b("blob"), &b("z"))?;
            Value::Array(vec![hex32(&proof), hex32(&y)])
        }
        "compute_blob_kzg_proof" => hex32(&ctx.compute_blob_kzg_proof(&b("blob"), &b("commitment"))?),
        "verify_kzg_proof" => {
            Value::Bool(ctx.verify_kzg_proof(&b("commitment"), &b("z"), &b("y"), &b("proof"))?)
        }
        "verify_blob_kzg_proof" => {
            Value::Bool(ctx.verify_blob_kzg_proof(&b("blob"), &b("commitment"), &b("proof"))?)
        }
        "verify_blob_kzg_proof_batch" => Value::Bool(ctx.verify_blob_kzg_proof_batch(
            &v.list(&input["blobs"]),
            &v.list(&input["commitments"]),
            &v.list(&input["proofs"]),
        )?),
        "compute_challenge" => hex32(&compute_challenge(&b("blob"), &b("commitment"))?),
        "compute_cells" => to_json(&ctx.compute_cells(&b("blob"))?),
        "compute_cells_and_kzg_proofs" => {
            let (cells, proofs) = ctx.compute_cells_and_kzg_proofs(&b("blob"))?;
            Value::Array(vec![to_json(&cells), to_json(&proofs)])
        }
        "recover_cells_and_kzg_proofs" => {
            let (cells, proofs) =
                ctx.recover_cells_and_kzg_proofs(&ints(&input["cell_indices"]), &v.list(&input["cells"]))?;
            Value::Array(vec![to_json(&cells), to_json(&proofs)])
        }
        "verify_cell_kzg_proof_batch" => Value::Bool(ctx.verify_cell_kzg_proof_batch(
            &v.list(&input["commitments"]),
            &ints(&input["cell_indices"]),
            &v.list(&input["cells"]),
            &v.list(&input["proofs"]),
        )?),
        "compute_verify_cell_kzg_proof_batch_challenge" => {
            let cells: Vec<Vec<u8>> = input["cosets_evals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|evals| v.list(evals).concat())
                .collect();
            hex32(&compute_verify_cell_kzg_proof_batch_challenge(
                &v.list(&input["commitments"]),
                &ints(&input["commitment_indices"]),
                &ints(&input["cell_indices"]),
                &cells,
                &v.list(&input["proofs"]),
            )?)
        }
        other => panic!("unknown function folder {other}"),
    })
}

/// Expected outputs with references resolved to hex.
fn expand(v: &Vectors, out: &Value) -> Value {
    match out {
        Value::Object(m) if m.contains_key("ref") => hex32(&v.bytes(out)),
        Value::Array(a) => Value::Array(a.iter().map(|x| expand(v, x)).collect()),
        Value::String(s) => Value::String(s.to_lowercase()),
        other => other.clone(),
    }
}

#[test]
fn all_official_vectors() {
    let v = load();
    let ctx = KzgContext::ethereum();
    let mut per_function = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for case in &v.cases {
        let function = case["function"].as_str().unwrap();
        let name = case["case"].as_str().unwrap();
        let expected = expand(&v, &case["output"]);
        let got = run_case(ctx, &v, function, &case["input"]);
        let ok = match &got {
            Ok(value) => *value == expected,
            Err(_) => expected.is_null(),
        };
        if !ok {
            let shown = match &got {
                Ok(value) => value.to_string().chars().take(200).collect::<String>(),
                Err(e) => format!("error: {e}"),
            };
            failures.push(format!("{function}/{name}: got {shown}"));
        }
        *per_function.entry(function.to_owned()).or_default() += 1;
    }
    assert_eq!(v.cases.len(), 344, "the full official set");
    assert_eq!(per_function.len(), 12, "all 12 function folders");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        v.cases.len(),
        failures.join("\n")
    );
}
