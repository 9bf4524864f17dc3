//! A small exact linear-programming solver for covering problems.
//!
//! The benchmarks compare the cost of what the scheduler provisions with the cost of the
//! cheapest *fractional* mix of instance types that covers the summed pod requests. That is the
//! linear program
//!
//! ```text
//! minimise   Σ_t c_t · x_t
//! subject to Σ_t a_rt · x_t ≥ b_r    for every resource r
//!            x_t ≥ 0
//! ```
//!
//! with few rows (resources: cpu, memory, pods, GPUs ...) and many columns (instance types).
//! Written with surplus variables `s_r ≥ 0` as `−Σ_t a_rt x_t + s_r = −b_r`, the all-surplus
//! basis is *dual* feasible whenever every cost is non-negative (every reduced cost is a cost) but
//! primal infeasible (`s = −b`). The dual simplex method starts there and keeps dual feasibility
//! while it repairs the negative right-hand sides, so the tableau has only one row per resource:
//! simplex on the dual problem `max b·y s.t. Aᵀy ≤ c, y ≥ 0` without ever writing the large dual
//! tableau down.
//!
//! Termination is guaranteed by Bland's rule in its dual form: the leaving row is the infeasible
//! row whose basic variable has the smallest index, and among the entering candidates with the
//! minimal ratio the smallest column index wins. Rows are scaled to a largest absolute entry of 1
//! first, so one tolerance suits memory in bytes and pods in units alike.

use thiserror::Error;

#[cfg(test)]
mod tests;

/// Absolute tolerance on scaled tableau entries, right-hand sides and reduced costs.
const TOLERANCE: f64 = 1e-9;

/// Errors of [`minimize_cover`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LpError {
    /// A row of coefficients has a different length than the cost vector.
    #[error("row {row} has {found} coefficients but there are {expected} columns")]
    RowLength {
        /// The offending row.
        row: usize,
        /// Its number of coefficients.
        found: usize,
        /// The number of columns (costs).
        expected: usize,
    },
    /// There are more or fewer rows than right-hand sides.
    #[error("{rows} rows of coefficients but {demands} right-hand sides")]
    RowCount {
        /// Number of coefficient rows.
        rows: usize,
        /// Number of right-hand sides.
        demands: usize,
    },
    /// An input number is NaN or infinite.
    #[error("{what} {index} is not a finite number")]
    NotFinite {
        /// Which input: `cost`, `demand` or `coefficient`.
        what: &'static str,
        /// Column (cost), row (demand) or flattened row-major index (coefficient).
        index: usize,
    },
    /// A cost is negative: the all-surplus start would not be dual feasible (and for covering
    /// problems a negative price means nothing).
    #[error("cost of column {column} is negative ({cost})")]
    NegativeCost {
        /// The column.
        column: usize,
        /// Its cost.
        cost: f64,
    },
    /// No non-negative combination of the columns satisfies the row.
    #[error("row {row} cannot be satisfied by any non-negative combination of the columns")]
    Infeasible {
        /// The row proven unsatisfiable.
        row: usize,
    },
    /// The iteration guard tripped; with Bland's rule this signals numerical trouble.
    #[error("no optimum after {iterations} pivots")]
    IterationLimit {
        /// Pivots performed.
        iterations: usize,
    },
}

/// An optimal solution of a covering LP.
#[derive(Debug, Clone, PartialEq)]
pub struct LpSolution {
    /// The optimal objective `Σ c_t x_t`.
    pub objective: f64,
    /// The optimal (basic) primal solution, one value per column.
    pub x: Vec<f64>,
    /// Optimal dual values, one per row: the marginal cost of one more unit of that row's demand
    /// (zero for rows that are not binding).
    pub duals: Vec<f64>,
    /// Number of pivots performed.
    pub pivots: usize,
}

/// Minimises `costs · x` subject to `rows[r] · x ≥ demand[r]` for every `r` and `x ≥ 0`.
///
/// Costs must be non-negative (so the problem is bounded below by 0); coefficients and demands
/// may have any sign.
pub fn minimize_cover(
    costs: &[f64],
    rows: &[Vec<f64>],
    demand: &[f64],
) -> Result<LpSolution, LpError> {
    validate(costs, rows, demand)?;
    let mut tableau = Tableau::new(costs, rows, demand);
    let limit = 50 * (costs.len() + rows.len()) + 1_000;
    while let Some(row) = tableau.leaving_row() {
        if tableau.pivots >= limit {
            return Err(LpError::IterationLimit {
                iterations: tableau.pivots,
            });
        }
        let column = tableau
            .entering_column(row)
            .ok_or(LpError::Infeasible { row })?;
        tableau.pivot(row, column);
    }
    Ok(tableau.solution(costs))
}

/// Rejects inputs the tableau cannot represent faithfully.
fn validate(costs: &[f64], rows: &[Vec<f64>], demand: &[f64]) -> Result<(), LpError> {
    if rows.len() != demand.len() {
        return Err(LpError::RowCount {
            rows: rows.len(),
            demands: demand.len(),
        });
    }
    for (column, &cost) in costs.iter().enumerate() {
        if !cost.is_finite() {
            return Err(LpError::NotFinite {
                what: "cost",
                index: column,
            });
        }
        if cost < 0.0 {
            return Err(LpError::NegativeCost { column, cost });
        }
    }
    for (row, values) in rows.iter().enumerate() {
        if values.len() != costs.len() {
            return Err(LpError::RowLength {
                row,
                found: values.len(),
                expected: costs.len(),
            });
        }
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Err(LpError::NotFinite {
                what: "coefficient",
                index: row * costs.len() + column,
            });
        }
        if !demand[row].is_finite() {
            return Err(LpError::NotFinite {
                what: "demand",
                index: row,
            });
        }
    }
    Ok(())
}

// === impl Tableau ===

/// The dense dual-simplex tableau: one row per constraint, one column per structural variable
/// followed by one per surplus variable.
struct Tableau {
    /// Number of structural columns.
    structural: usize,
    /// Row-major coefficients, `rows × (structural + rows)`.
    cells: Vec<f64>,
    /// Right-hand side per row: the current value of the row's basic variable.
    rhs: Vec<f64>,
    /// Reduced cost per column; kept non-negative (dual feasible) by the ratio test.
    reduced: Vec<f64>,
    /// The basic column of each row.
    basis: Vec<usize>,
    /// Per row, the factor the original row was divided by (to recover the duals).
    row_scale: Vec<f64>,
    /// Pivots performed so far.
    pivots: usize,
}

impl Tableau {
    /// The all-surplus basis for `−A x + s = −b`, each row divided by its largest magnitude.
    fn new(costs: &[f64], rows: &[Vec<f64>], demand: &[f64]) -> Tableau {
        let structural = costs.len();
        let height = rows.len();
        let width = structural + height;
        let mut cells = vec![0.0; height * width];
        let mut rhs = Vec::with_capacity(height);
        let mut row_scale = Vec::with_capacity(height);
        for (r, values) in rows.iter().enumerate() {
            let largest = values
                .iter()
                .chain(std::iter::once(&demand[r]))
                .fold(0.0_f64, |acc, v| acc.max(v.abs()));
            let scale = if largest > 0.0 { largest } else { 1.0 };
            let line = &mut cells[r * width..(r + 1) * width];
            for (cell, value) in line.iter_mut().zip(values) {
                *cell = -value / scale;
            }
            line[structural + r] = 1.0;
            rhs.push(-demand[r] / scale);
            row_scale.push(scale);
        }
        let mut reduced = costs.to_vec();
        reduced.resize(width, 0.0);
        Tableau {
            structural,
            cells,
            rhs,
            reduced,
            basis: (structural..width).collect(),
            row_scale,
            pivots: 0,
        }
    }

    fn width(&self) -> usize {
        self.reduced.len()
    }

    fn row(&self, r: usize) -> &[f64] {
        let width = self.width();
        &self.cells[r * width..(r + 1) * width]
    }

    /// Bland: among primal-infeasible rows, the one whose basic column has the smallest index.
    fn leaving_row(&self) -> Option<usize> {
        (0..self.rhs.len())
            .filter(|&r| self.rhs[r] < -TOLERANCE)
            .min_by_key(|&r| self.basis[r])
    }

    /// The dual ratio test on `row`: among columns with a negative entry, the smallest
    /// `reduced / |entry|`, ties to the smallest column index. `None` proves infeasibility.
    fn entering_column(&self, row: usize) -> Option<usize> {
        let mut best: Option<(usize, f64)> = None;
        for (column, &entry) in self.row(row).iter().enumerate() {
            if entry >= -TOLERANCE {
                continue;
            }
            let ratio = self.reduced[column].max(0.0) / -entry;
            // Strictly smaller by more than the tolerance replaces; near-ties keep the earlier
            // (smaller) column index, which is Bland's tie-break.
            let better = match best {
                None => true,
                Some((_, current)) => ratio < current - TOLERANCE * (1.0 + current.abs()),
            };
            if better {
                best = Some((column, ratio));
            }
        }
        best.map(|(column, _)| column)
    }

    /// Gauss-Jordan pivot on (`row`, `column`), including the reduced-cost row.
    fn pivot(&mut self, row: usize, column: usize) {
        let width = self.width();
        let pivot = self.cells[row * width + column];
        for cell in &mut self.cells[row * width..(row + 1) * width] {
            *cell /= pivot;
        }
        self.rhs[row] /= pivot;
        let pivot_row: Vec<f64> = self.row(row).to_vec();
        for r in 0..self.rhs.len() {
            if r == row {
                continue;
            }
            let factor = self.cells[r * width + column];
            if factor == 0.0 {
                continue;
            }
            for (cell, p) in self.cells[r * width..(r + 1) * width]
                .iter_mut()
                .zip(&pivot_row)
            {
                *cell -= factor * p;
            }
            self.rhs[r] -= factor * self.rhs[row];
        }
        let factor = self.reduced[column];
        for (cost, p) in self.reduced.iter_mut().zip(&pivot_row) {
            *cost -= factor * p;
        }
        self.basis[row] = column;
        self.pivots += 1;
    }

    /// Reads the primal values, the objective and the duals off an optimal tableau.
    fn solution(&self, costs: &[f64]) -> LpSolution {
        let mut x = vec![0.0; self.structural];
        for (r, &column) in self.basis.iter().enumerate() {
            if column < self.structural {
                x[column] = self.rhs[r].max(0.0);
            }
        }
        let objective = x.iter().zip(costs).map(|(value, cost)| value * cost).sum();
        // The reduced cost of surplus s_r is the dual of the scaled row r; dividing by the scale
        // gives the dual of the row as given.
        let duals = (0..self.rhs.len())
            .map(|r| self.reduced[self.structural + r].max(0.0) / self.row_scale[r])
            .collect();
        LpSolution {
            objective,
            x,
            duals,
            pivots: self.pivots,
        }
    }
}
