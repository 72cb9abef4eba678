//! The one object every KZG operation goes through: setup points, their
//! precomputed tables, domains and roots of unity.

use std::sync::OnceLock;

use ark_bls12_381::{Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use zg_erasure::field::{CellCode, bit_reversal_permutation};

use crate::block_tables::{BlockShape, LazyBlockTables};
use crate::blst_ops::G2Lines;
use crate::comb::G1Comb;
use crate::fk20::{Fk20, setup_rows};
use crate::setup::TrustedSetup;

use crate::{CELLS_PER_EXT_BLOB, FIELD_ELEMENTS_PER_BLOB, FIELD_ELEMENTS_PER_CELL, Result};

/// How much to precompute for the fixed-base MSMs, like c-kzg's `precompute`.
///
/// Each MSM over setup points can keep subset-sum tables ([`BlockShape`]):
/// the commitment and blob-proof MSM over the 4096 Lagrange points, and
/// FK20's 128 row MSMs of 64 points for cell proofs. Tables trade memory
/// for speed and are built on first use (or by [`KzgContext::build_tables`]);
/// [`KzgContext::precompute_bytes`] reports their size.
/// [`Precompute::NONE`] keeps only the setup points and uses Pippenger's method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precompute {
    /// Tables for the commitment MSM (over the Lagrange points); `None` for none.
    pub blob_blocks: Option<BlockShape>,
    /// Tables for FK20's per-row MSMs; `None` for none.
    pub cell_blocks: Option<BlockShape>,
}

/// A shape known to be valid, for the presets.
const fn shape(bits: u32, stride: u32) -> BlockShape {
    match BlockShape::new(bits, stride) {
        Some(s) => s,
        None => panic!("preset shapes are valid"),
    }
}

impl Precompute {
    /// No tables: least memory, slowest proving.
    pub const NONE: Self = Self {
        blob_blocks: None,
        cell_blocks: None,
    };
    /// The tables [`KzgContext::ethereum`] uses: 118 MiB for commitments and
    /// blob proofs (13-point blocks, 255-bit digits; 1.9 MiB more for cell
    /// verification's 64 monomial points) and 288 MiB for cell proofs
    /// (11-point blocks, 64-bit digits).
    pub const DEFAULT: Self = Self {
        blob_blocks: Some(shape(13, 255)),
        cell_blocks: Some(shape(11, 64)),
    };
    /// Memory for speed: 419 MiB for commitments (15-point blocks) and
    /// 2.2 GiB for cell proofs (14-point blocks, 51-bit digits: 1% faster
    /// than 64-bit ones, measured, whose 19th block holds 4 members).
    pub const LARGE: Self = Self {
        blob_blocks: Some(shape(15, 255)),
        cell_blocks: Some(shape(14, 51)),
    };

    /// Bytes the tables take once built.
    pub fn memory_bytes(self) -> usize {
        // The commitment shape serves cell verification's 64 monomial points too.
        let blob = self.blob_blocks.map_or(0, |s| {
            s.memory_bytes(FIELD_ELEMENTS_PER_BLOB) + s.memory_bytes(FIELD_ELEMENTS_PER_CELL)
        });
        let cells = self.cell_blocks.map_or(0, |s| {
            CELLS_PER_EXT_BLOB * s.memory_bytes(FIELD_ELEMENTS_PER_CELL)
        });
        blob + cells
    }
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
    /// Commitments and blob proofs: MSM over the Lagrange points in bit-reversed order.
    pub(crate) lagrange_brp: LazyBlockTables,
    /// Cell verification's interpolation commitment: MSM over the first 64 monomial points.
    pub(crate) cell_monomial: LazyBlockTables,
    pub(crate) fk20: Fk20,
    pub(crate) cells: CellCode<Fr>,
    /// The 4096-th roots of unity in bit-reversed order (the blob's evaluation points).
    pub(crate) roots_brp: Vec<Fr>,
    /// `w^-k` for the 64th root of unity `w` and `k < 32`: the inverse FFT's twiddles.
    pub(crate) cell_ifft_twiddles: Vec<Fr>,
    /// Per cell index `c` with coset shift `h` (every 64th of the 8192-th
    /// roots of unity in bit-reversed order), `h^-i / 64` at `64 c + i`: what
    /// turns an unnormalized inverse FFT over the coset into coefficients
    /// (256 KiB).
    pub(crate) coset_interpolation_scale: Vec<Fr>,
    /// Per cell index, `h^64`.
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
    /// The old proving path's tables, built when the bench first switches it on.
    #[cfg(feature = "bench-legacy")]
    legacy: OnceLock<crate::legacy::Legacy>,
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
        let mut lagrange = setup.g1_lagrange;
        bit_reversal_permutation(&mut lagrange);
        let lagrange_brp = LazyBlockTables::new(lagrange, precompute.blob_blocks);
        let cell_monomial = LazyBlockTables::new(
            setup.g1_monomial[..FIELD_ELEMENTS_PER_CELL].to_vec(),
            precompute.blob_blocks,
        );
        let fk20 = Fk20::new(
            rows,
            FIELD_ELEMENTS_PER_BLOB,
            FIELD_ELEMENTS_PER_CELL,
            precompute.cell_blocks,
        );
        let cells =
            CellCode::new(FIELD_ELEMENTS_PER_BLOB, CELLS_PER_EXT_BLOB).expect("the EIP-7594 shape is valid");
        let roots = |n: usize| {
            let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("power of two within 2-adicity");
            let mut r: Vec<Fr> = domain.elements().collect();
            bit_reversal_permutation(&mut r);
            r
        };
        let cell_domain =
            Radix2EvaluationDomain::<Fr>::new(FIELD_ELEMENTS_PER_CELL).expect("64 is a power of two");
        let cell_ifft_twiddles: Vec<Fr> = std::iter::successors(Some(<Fr as ark_ff::Field>::ONE), |w| {
            Some(*w * cell_domain.group_gen_inv)
        })
        .take(FIELD_ELEMENTS_PER_CELL / 2)
        .collect();
        let shifts: Vec<Fr> = roots(2 * FIELD_ELEMENTS_PER_BLOB)
            .into_iter()
            .step_by(FIELD_ELEMENTS_PER_CELL)
            .collect();
        let mut coset_shift_inv = shifts.clone();
        ark_ff::batch_inversion(&mut coset_shift_inv);
        let coset_interpolation_scale = coset_shift_inv
            .iter()
            .flat_map(|h_inv| {
                std::iter::successors(Some(cell_domain.size_inv), move |x| Some(*x * h_inv))
                    .take(FIELD_ELEMENTS_PER_CELL)
            })
            .collect();
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
            lagrange_brp,
            cell_monomial,
            fk20,
            cells,
            roots_brp: roots(FIELD_ELEMENTS_PER_BLOB),
            cell_ifft_twiddles,
            coset_interpolation_scale,
            coset_shift_pow,
            precompute,
            #[cfg(feature = "bench-legacy")]
            legacy: OnceLock::new(),
        }
    }

    /// The precomputation this context was built with.
    pub fn precompute(&self) -> Precompute {
        self.precompute
    }

    /// Builds the MSM tables now; otherwise the first commitment builds the
    /// commitment table (about 0.3 s) and the first cell proof FK20's (about 0.5 s).
    pub fn build_tables(&self) {
        rayon::join(
            || rayon::join(|| self.lagrange_brp.tables(), || self.cell_monomial.tables()),
            || self.fk20.build_tables(),
        );
    }

    /// Bytes the precomputed MSM tables take once built (beyond the setup points).
    pub fn precompute_bytes(&self) -> usize {
        self.precompute.memory_bytes()
    }

    /// The commitment MSM over the bit-reversed Lagrange points.
    pub(crate) fn commit_msm(&self, poly: &[Fr]) -> ark_bls12_381::G1Projective {
        #[cfg(feature = "bench-legacy")]
        if let Some(legacy) = self.legacy() {
            return legacy.commit(poly);
        }
        self.lagrange_brp.msm(poly)
    }

    /// [`KzgContext::commit_msm`] of several polynomials, batched together.
    pub(crate) fn commit_msms(&self, polys: &[&[Fr]]) -> Vec<G1Affine> {
        #[cfg(feature = "bench-legacy")]
        if let Some(legacy) = self.legacy() {
            return polys
                .iter()
                .map(|p| ark_ec::CurveGroup::into_affine(legacy.commit(p)))
                .collect();
        }
        self.lagrange_brp.msms(polys)
    }

    /// FK20's proofs of each polynomial (coefficients), several in lockstep.
    pub(crate) fn cell_proofs(&self, polys: &[&[Fr]]) -> Vec<Vec<G1Affine>> {
        #[cfg(feature = "bench-legacy")]
        if let Some(legacy) = self.legacy() {
            return polys
                .iter()
                .map(|coeffs| legacy.proofs(&self.fk20.row_scalars(coeffs)))
                .collect();
        }
        self.fk20.proofs(polys)
    }

    /// The old path, while the bench has it switched on.
    #[cfg(feature = "bench-legacy")]
    fn legacy(&self) -> Option<&crate::legacy::Legacy> {
        crate::legacy::enabled().then(|| {
            self.legacy.get_or_init(|| {
                crate::init_off_global_pool(|| {
                    let rows: Vec<&[G1Affine]> =
                        self.fk20.rows().iter().map(LazyBlockTables::bases).collect();
                    crate::legacy::Legacy::new(self.lagrange_brp.bases(), &rows)
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precompute_bytes_are_the_tables_built() {
        let precompute = Precompute {
            blob_blocks: BlockShape::new(6, 255),
            cell_blocks: BlockShape::new(5, 128),
        };
        let ctx = KzgContext::ethereum_with(precompute);
        ctx.build_tables();
        let built = [&ctx.lagrange_brp, &ctx.cell_monomial]
            .into_iter()
            .chain(ctx.fk20.rows())
            .filter_map(LazyBlockTables::tables)
            .map(crate::block_tables::BlockTables::bytes)
            .sum::<usize>();
        assert_eq!(ctx.precompute_bytes(), built);
        assert_eq!(KzgContext::ethereum_with(Precompute::NONE).precompute_bytes(), 0);
    }
}
