//! Reed-Solomon over a prime field by FFT, in EIP-7594's shape.
//!
//! A blob is `n` evaluations of a polynomial of degree `< n` over the
//! `n`-th roots of unity, in bit-reversed order. Extending evaluates it over
//! the `2n`-th roots (again bit-reversed), so the first half of the extension
//! is the blob itself. Cut into cells of `2n / cells` consecutive values,
//! each cell is a coset of a small subgroup, and any half of the cells
//! recovers the polynomial: by the vanishing-polynomial method with coset
//! FFTs (`O(n log n)`), never by Lagrange interpolation.

use ark_ff::FftField;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};

use crate::{ErasureError, Result};

/// `i` with its lowest `log2(n)` bits reversed (`n` a power of two).
pub fn reverse_bits(i: usize, n: usize) -> usize {
    debug_assert!(n.is_power_of_two() && i < n);
    if n == 1 {
        return 0;
    }
    i.reverse_bits() >> (usize::BITS - n.trailing_zeros())
}

/// Permutes `v` (power-of-two length) into bit-reversed order; its own inverse.
pub fn bit_reversal_permutation<T>(v: &mut [T]) {
    let n = v.len();
    debug_assert!(n.is_power_of_two() || n == 0);
    for i in 0..n {
        let j = reverse_bits(i, n);
        if i < j {
            v.swap(i, j);
        }
    }
}

/// The EIP-7594-shaped code over field `F`: blobs of `n` elements, extended
/// to `2n`, cut into `cells` cells.
#[derive(Clone, Debug)]
pub struct CellCode<F: FftField> {
    n: usize,
    cells: usize,
    domain: Radix2EvaluationDomain<F>,
    ext_domain: Radix2EvaluationDomain<F>,
    /// The odd points of the extended domain: `omega_2n * omega_n^i`.
    odd_coset: Radix2EvaluationDomain<F>,
    /// The extended domain shifted off itself, where division by the vanishing polynomial is safe.
    shifted_ext: Radix2EvaluationDomain<F>,
    /// The `cells`-th roots of unity: a missing cell `i` is a root `x^cell_len = w^brp(i)` of the vanishing polynomial.
    cell_domain: Radix2EvaluationDomain<F>,
}

impl<F: FftField> CellCode<F> {
    /// A code for blobs of `n` elements and `cells` cells of the extension.
    /// Both are powers of two and `cells` divides `2n`.
    pub fn new(n: usize, cells: usize) -> Result<Self> {
        if !n.is_power_of_two() || !cells.is_power_of_two() || cells > 2 * n || cells < 2 {
            return Err(ErasureError::InvalidShape(
                "blob length and cell count must be powers of two, 2 <= cells <= 2n",
            ));
        }
        let shape = ErasureError::InvalidShape("the field has no root of unity of that order");
        let domain = Radix2EvaluationDomain::new(n).ok_or(shape)?;
        let ext_domain = Radix2EvaluationDomain::new(2 * n).ok_or(ErasureError::InvalidShape(
            "the field has no root of unity of that order",
        ))?;
        let cell_domain = Radix2EvaluationDomain::new(cells).ok_or(ErasureError::InvalidShape(
            "the field has no root of unity of that order",
        ))?;
        let odd_coset = domain
            .get_coset(ext_domain.group_gen())
            .ok_or(ErasureError::InvalidShape("cannot shift the blob domain"))?;
        let shifted_ext = ext_domain
            .get_coset(F::GENERATOR)
            .ok_or(ErasureError::InvalidShape("cannot shift the extended domain"))?;
        Ok(Self {
            n,
            cells,
            domain,
            ext_domain,
            odd_coset,
            shifted_ext,
            cell_domain,
        })
    }

    /// Elements in a blob.
    pub fn blob_len(&self) -> usize {
        self.n
    }

    /// Elements in an extended blob.
    pub fn extended_len(&self) -> usize {
        2 * self.n
    }

    /// Cells in an extended blob.
    pub fn cell_count(&self) -> usize {
        self.cells
    }

    /// Elements per cell.
    pub fn cell_len(&self) -> usize {
        2 * self.n / self.cells
    }

    fn check_blob(&self, what: &'static str, got: usize) -> Result<()> {
        if got != self.n {
            return Err(ErasureError::WrongLength {
                what,
                expected: self.n,
                got,
            });
        }
        Ok(())
    }

    /// Coefficients of the polynomial whose bit-reversed evaluations are `blob`.
    pub fn coefficients(&self, blob: &[F]) -> Result<Vec<F>> {
        self.check_blob("blob", blob.len())?;
        let mut v = blob.to_vec();
        bit_reversal_permutation(&mut v);
        self.domain.ifft_in_place(&mut v);
        Ok(v)
    }

    /// Bit-reversed evaluations over the `2n`-th roots of a polynomial of degree `< n`.
    pub fn extend_coefficients(&self, coeffs: &[F]) -> Result<Vec<F>> {
        self.check_blob("polynomial", coeffs.len())?;
        // In bit-reversed order the even points (the blob's own domain) come
        // first and the odd points (a coset of it) second: two size-n FFTs.
        let mut even = coeffs.to_vec();
        self.domain.fft_in_place(&mut even);
        bit_reversal_permutation(&mut even);
        even.extend(self.odd_half(coeffs)?);
        Ok(even)
    }

    /// The second half of [`CellCode::extend_coefficients`] alone: the
    /// bit-reversed evaluations on the odd coset. The first half is the blob
    /// itself, so a caller that holds it needs only this one FFT.
    pub fn odd_half(&self, coeffs: &[F]) -> Result<Vec<F>> {
        self.check_blob("polynomial", coeffs.len())?;
        let mut odd = coeffs.to_vec();
        self.odd_coset.fft_in_place(&mut odd);
        bit_reversal_permutation(&mut odd);
        Ok(odd)
    }

    /// Extends a blob (bit-reversed evaluations) to `2n` bit-reversed evaluations;
    /// the first `n` are the blob itself.
    pub fn extend(&self, blob: &[F]) -> Result<Vec<F>> {
        let coeffs = self.coefficients(blob)?;
        let mut out = blob.to_vec();
        out.extend(self.odd_half(&coeffs)?);
        Ok(out)
    }

    /// Checks cell indices and lengths: in range, distinct, at least half.
    fn check_cells(&self, cells: &[(u64, &[F])]) -> Result<()> {
        let mut seen = vec![false; self.cells];
        for &(index, cell) in cells {
            let i = usize::try_from(index).ok().filter(|&i| i < self.cells).ok_or(
                ErasureError::CellIndexOutOfRange {
                    index,
                    count: self.cells,
                },
            )?;
            if std::mem::replace(&mut seen[i], true) {
                return Err(ErasureError::DuplicateCell { index });
            }
            if cell.len() != self.cell_len() {
                return Err(ErasureError::WrongLength {
                    what: "cell",
                    expected: self.cell_len(),
                    got: cell.len(),
                });
            }
        }
        if cells.len() * 2 < self.cells {
            return Err(ErasureError::NotEnoughCells {
                have: cells.len(),
                need: self.cells / 2,
            });
        }
        Ok(())
    }

    /// Evaluations over `domain` of the vanishing polynomial of the missing
    /// cells, `Z(x) = S(x^cell_len)`, from `S` over the small cell domain.
    fn vanishing_evals(&self, short_zero: &[F], domain: &Radix2EvaluationDomain<F>) -> Vec<F> {
        // x^cell_len over the 2n points of `domain` (offset g) runs through the
        // `cells` points g^cell_len * w_cells^j, repeating: evaluate S there once.
        let offset = domain.coset_offset().pow([self.cell_len() as u64]);
        let small = self.cell_domain.get_coset(offset).unwrap_or(self.cell_domain);
        let mut s = short_zero.to_vec();
        s.resize(self.cells, F::zero());
        small.fft_in_place(&mut s);
        (0..2 * self.n).map(|j| s[j % self.cells]).collect()
    }

    /// Recovers the polynomial's `n` coefficients from at least half of the
    /// cells, as `(cell index, cell)` pairs in any order.
    pub fn recover_coefficients(&self, cells: &[(u64, &[F])]) -> Result<Vec<F>> {
        self.check_cells(cells)?;
        let cell_len = self.cell_len();
        let mut present = vec![false; self.cells];
        let mut ext = vec![F::zero(); 2 * self.n];
        for &(index, cell) in cells {
            let i = index as usize;
            present[i] = true;
            ext[i * cell_len..(i + 1) * cell_len].copy_from_slice(cell);
        }
        bit_reversal_permutation(&mut ext);
        if present.iter().all(|&p| p) {
            self.ext_domain.ifft_in_place(&mut ext);
            ext.truncate(self.n);
            return Ok(ext);
        }
        // S(y) = prod over missing cells i of (y - w_cells^brp(i)); degree <= cells / 2.
        let roots: Vec<F> = (0..self.cells)
            .filter(|&i| !present[i])
            .map(|i| self.cell_domain.element(reverse_bits(i, self.cells)))
            .collect();
        let short_zero = vanishing_polynomial(&roots);
        // (E * Z) over the extended domain equals (P * Z): E is zero where Z is not.
        let z_ext = self.vanishing_evals(&short_zero, &self.ext_domain);
        for (e, z) in ext.iter_mut().zip(&z_ext) {
            *e *= z;
        }
        self.ext_domain.ifft_in_place(&mut ext);
        // Divide by Z on a shifted domain, where Z has no zeros.
        self.shifted_ext.fft_in_place(&mut ext);
        let mut z_shifted = self.vanishing_evals(&short_zero, &self.shifted_ext);
        ark_ff::batch_inversion(&mut z_shifted);
        for (e, z) in ext.iter_mut().zip(&z_shifted) {
            *e *= z;
        }
        self.shifted_ext.ifft_in_place(&mut ext);
        if ext[self.n..].iter().any(|c| !c.is_zero()) {
            return Err(ErasureError::InvalidShape(
                "the cells are not evaluations of one polynomial of the blob's degree",
            ));
        }
        ext.truncate(self.n);
        Ok(ext)
    }

    /// Recovers every cell: the `2n` bit-reversed evaluations of the extension.
    pub fn recover(&self, cells: &[(u64, &[F])]) -> Result<Vec<F>> {
        let coeffs = self.recover_coefficients(cells)?;
        self.extend_coefficients(&coeffs)
    }
}

/// Coefficients (low to high) of the monic polynomial with exactly `roots` as roots.
pub fn vanishing_polynomial<F: FftField>(roots: &[F]) -> Vec<F> {
    let mut coeffs = vec![F::one()];
    for root in roots {
        // Multiply by (x - root): shift up, subtract root times the old coefficients.
        coeffs.insert(0, F::zero());
        for j in 0..coeffs.len() - 1 {
            let next = coeffs[j + 1];
            coeffs[j] -= next * root;
        }
    }
    coeffs
}
