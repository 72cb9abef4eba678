//! The one object every KZG operation goes through: setup points, their
//! precomputed tables, domains and roots of unity.

use std::sync::OnceLock;

use ark_bls12_381::{Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use zg_erasure::field::{CellCode, bit_reversal_permutation};

use crate::blst_ops::G2Lines;
use crate::fk20::{Fk20, setup_rows};
use crate::msm::{G1Comb, G1Msm};
use crate::setup::TrustedSetup;

use crate::{CELLS_PER_EXT_BLOB, FIELD_ELEMENTS_PER_BLOB, FIELD_ELEMENTS_PER_CELL, Result};

/// How much to precompute for the fixed-base MSMs, like c-kzg's `precompute`.
///
/// Tables trade memory for speed: [`Precompute::DEFAULT`] takes about 8 MiB
/// for commitments and blob proofs (13-bit windows over the 4096 Lagrange
/// points) and about 26 MiB for cell proofs (8-bit windows over FK20's 128
/// rows of 64 points); [`KzgContext::precompute_bytes`] reports the exact
/// figure. [`Precompute::NONE`] keeps only the setup points and uses
/// Pippenger's method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precompute {
    /// Window bits for the commitment MSM (over the Lagrange points); `None` for no tables.
    pub blob_window: Option<u32>,
    /// Window bits for FK20's per-row MSMs; `None` for no tables.
    pub cell_window: Option<u32>,
}

impl Precompute {
    /// No tables: least memory, slowest proving.
    pub const NONE: Self = Self {
        blob_window: None,
        cell_window: None,
    };
    /// The tables [`KzgContext::ethereum`] uses.
    pub const DEFAULT: Self = Self {
        blob_window: Some(13),
        cell_window: Some(8),
    };
}

impl Default for Precompute {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Settings for every EIP-4844 and EIP-7594 operation.
///
/// All work runs on rayon's current pool: call inside
/// `ThreadPool::install` with one thread to stay single-threaded.
#[derive(Debug)]
pub struct KzgContext {
    pub(crate) setup: TrustedSetup,
    /// Commitments and blob proofs: MSM over the Lagrange points in bit-reversed order.
    pub(crate) lagrange_brp: G1Msm,
    pub(crate) fk20: Fk20,
    pub(crate) cells: CellCode<Fr>,
    /// The 4096-th roots of unity in bit-reversed order (the blob's evaluation points).
    pub(crate) roots_brp: Vec<Fr>,
    /// Size-64 domain for interpolating cells.
    pub(crate) cell_domain: Radix2EvaluationDomain<Fr>,
    /// Per cell index, `1 / h` and `h^64` for its coset shift `h` (every 64th
    /// of the 8192-th roots of unity in bit-reversed order).
    pub(crate) coset_shift_inv: Vec<Fr>,
    pub(crate) coset_shift_pow: Vec<Fr>,
    /// `y * G1` for verifying single proofs.
    pub(crate) g1_gen_comb: G1Comb,
    /// G2 points of the pairing checks, prepared once (their line coefficients).
    pub(crate) g2_gen: G2Lines,
    pub(crate) g2_neg_gen: G2Lines,
    pub(crate) g2_tau: G2Lines,
    pub(crate) g2_neg_tau: G2Lines,
    pub(crate) g2_tau_cell: G2Lines,
    pub(crate) precompute: Precompute,
}

impl KzgContext {
    /// The shared context over the embedded Ethereum mainnet setup with
    /// default precomputation, built once on first use.
    pub fn ethereum() -> &'static KzgContext {
        static CTX: OnceLock<KzgContext> = OnceLock::new();
        CTX.get_or_init(|| crate::init_off_global_pool(|| Self::ethereum_with(Precompute::DEFAULT)))
    }

    /// A context over the embedded mainnet setup with the given precomputation.
    pub fn ethereum_with(precompute: Precompute) -> Self {
        Self::with_fk20_rows(
            TrustedSetup::ethereum(),
            precompute,
            crate::setup::ethereum_fk20_rows(),
        )
    }

    /// A context over a setup file in the `trusted_setup.txt` format; every point is validated.
    pub fn from_trusted_setup_file(
        path: impl AsRef<std::path::Path>,
        precompute: Precompute,
    ) -> Result<Self> {
        Ok(Self::new(TrustedSetup::from_file(path)?, precompute))
    }

    /// A context over a loaded setup (computing FK20's setup side: about a
    /// second on two cores; the embedded mainnet setup has it precomputed).
    pub fn new(setup: TrustedSetup, precompute: Precompute) -> Self {
        let rows = setup_rows(&setup.g1_monomial, FIELD_ELEMENTS_PER_CELL);
        Self::with_fk20_rows(setup, precompute, rows)
    }

    fn with_fk20_rows(setup: TrustedSetup, precompute: Precompute, rows: Vec<Vec<G1Affine>>) -> Self {
        let mut lagrange = setup.g1_lagrange.clone();
        bit_reversal_permutation(&mut lagrange);
        let lagrange_brp = G1Msm::new(lagrange, precompute.blob_window);
        let fk20 = Fk20::new(
            rows,
            FIELD_ELEMENTS_PER_BLOB,
            FIELD_ELEMENTS_PER_CELL,
            precompute.cell_window,
        );
        let cells =
            CellCode::new(FIELD_ELEMENTS_PER_BLOB, CELLS_PER_EXT_BLOB).expect("the EIP-7594 shape is valid");
        let roots = |n: usize| {
            let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("power of two within 2-adicity");
            let mut r: Vec<Fr> = domain.elements().collect();
            bit_reversal_permutation(&mut r);
            r
        };
        let cell_domain = Radix2EvaluationDomain::new(FIELD_ELEMENTS_PER_CELL).expect("64 is a power of two");
        let shifts: Vec<Fr> = roots(2 * FIELD_ELEMENTS_PER_BLOB)
            .into_iter()
            .step_by(FIELD_ELEMENTS_PER_CELL)
            .collect();
        let mut coset_shift_inv = shifts.clone();
        ark_ff::batch_inversion(&mut coset_shift_inv);
        let coset_shift_pow = shifts
            .iter()
            .map(|h| ark_ff::Field::pow(h, [FIELD_ELEMENTS_PER_CELL as u64]))
            .collect();
        Self {
            g1_gen_comb: G1Comb::new(&G1Affine::generator()),
            g2_gen: G2Lines::new(&G2Affine::generator()),
            g2_neg_gen: G2Lines::new(&-G2Affine::generator()),
            g2_tau: G2Lines::new(&setup.g2_monomial[1]),
            g2_neg_tau: G2Lines::new(&-setup.g2_monomial[1]),
            g2_tau_cell: G2Lines::new(&setup.g2_monomial[FIELD_ELEMENTS_PER_CELL]),
            setup,
            lagrange_brp,
            fk20,
            cells,
            roots_brp: roots(FIELD_ELEMENTS_PER_BLOB),
            cell_domain,
            coset_shift_inv,
            coset_shift_pow,
            precompute,
        }
    }

    /// The precomputation this context was built with.
    pub fn precompute(&self) -> Precompute {
        self.precompute
    }

    /// Builds the MSM tables now; otherwise the first commitment builds the
    /// commitment table (about 0.3 s) and the first cell proof FK20's (about 0.5 s).
    pub fn build_tables(&self) {
        rayon::join(|| self.lagrange_brp.build_tables(), || self.fk20.build_tables());
    }

    /// Bytes the precomputed MSM tables take once built (beyond the setup points).
    pub fn precompute_bytes(&self) -> usize {
        self.lagrange_brp.memory_bytes() + self.fk20.memory_bytes()
    }

    /// `[tau^i]G1` for the first `n` powers.
    pub(crate) fn g1_monomial(&self, n: usize) -> &[G1Affine] {
        &self.setup.g1_monomial[..n]
    }
}
