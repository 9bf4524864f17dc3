use super::*;
use proptest::prelude::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-7 * (1.0 + a.abs().max(b.abs()))
}

fn assert_close(actual: f64, expected: f64) {
    assert!(close(actual, expected), "{actual} != {expected}");
}

/// Checks an optimality certificate: x feasible, duals feasible, equal objectives.
fn assert_certificate(costs: &[f64], rows: &[Vec<f64>], demand: &[f64], s: &LpSolution) {
    assert!(s.x.iter().all(|v| *v >= 0.0), "x >= 0: {:?}", s.x);
    for (r, row) in rows.iter().enumerate() {
        let covered: f64 = row.iter().zip(&s.x).map(|(a, x)| a * x).sum();
        assert!(
            covered >= demand[r] - 1e-7 * (1.0 + demand[r].abs()),
            "row {r}: {covered} < {}",
            demand[r]
        );
    }
    assert!(s.duals.iter().all(|y| *y >= 0.0), "y >= 0: {:?}", s.duals);
    for (t, cost) in costs.iter().enumerate() {
        let priced: f64 = rows.iter().zip(&s.duals).map(|(row, y)| row[t] * y).sum();
        assert!(
            priced <= cost + 1e-7 * (1.0 + cost.abs()),
            "column {t}: dual price {priced} > cost {cost}"
        );
    }
    let dual_objective: f64 = demand.iter().zip(&s.duals).map(|(b, y)| b * y).sum();
    assert_close(s.objective, dual_objective);
}

#[test]
fn one_resource_takes_the_best_price_per_unit() {
    // 2 cpu for $1 (0.5 $/cpu) vs 4 cpu for $1.5 (0.375 $/cpu): 2.5 of the second.
    let costs = [1.0, 1.5];
    let rows = vec![vec![2.0, 4.0]];
    let s = minimize_cover(&costs, &rows, &[10.0]).expect("solve");
    assert_close(s.objective, 3.75);
    assert_close(s.x[0], 0.0);
    assert_close(s.x[1], 2.5);
    assert_close(s.duals[0], 0.375);
    assert_certificate(&costs, &rows, &[10.0], &s);
}

#[test]
fn two_resources_mix_a_cpu_heavy_and_a_memory_heavy_type() {
    // 4a + 2b >= 10 (cpu), 8a + 16b >= 40 (memory), cost a + b.
    // Vertices: (5, 0) -> 5, (0, 5) -> 5, (5/3, 5/3) -> 10/3 (optimal).
    // Duals solve 4y1 + 8y2 = 1, 2y1 + 16y2 = 1: y1 = 1/6, y2 = 1/24.
    let costs = [1.0, 1.0];
    let rows = vec![vec![4.0, 2.0], vec![8.0, 16.0]];
    let demand = [10.0, 40.0];
    let s = minimize_cover(&costs, &rows, &demand).expect("solve");
    assert_close(s.objective, 10.0 / 3.0);
    assert_close(s.x[0], 5.0 / 3.0);
    assert_close(s.x[1], 5.0 / 3.0);
    assert_close(s.duals[0], 1.0 / 6.0);
    assert_close(s.duals[1], 1.0 / 24.0);
    assert_certificate(&costs, &rows, &demand, &s);
}

#[test]
fn a_non_binding_resource_has_a_zero_dual() {
    // Memory is plentiful on the only cheap type: cpu binds alone.
    let costs = [1.0, 3.0];
    let rows = vec![vec![2.0, 2.0], vec![100.0, 1.0]];
    let demand = [8.0, 10.0];
    let s = minimize_cover(&costs, &rows, &demand).expect("solve");
    assert_close(s.objective, 4.0);
    assert_close(s.x[0], 4.0);
    assert_close(s.duals[0], 0.5);
    assert_close(s.duals[1], 0.0);
    assert_certificate(&costs, &rows, &demand, &s);
}

#[test]
fn wildly_different_row_magnitudes_are_handled_by_row_scaling() {
    // Memory in bytes next to pods in units, as the benchmarks feed it.
    let gib = 1024.0 * 1024.0 * 1024.0;
    let costs = [0.1, 0.19];
    let rows = vec![
        vec![2.0, 4.0],
        vec![8.0 * gib, 16.0 * gib],
        vec![29.0, 58.0],
    ];
    let demand = [7.0, 30.0 * gib, 100.0];
    let s = minimize_cover(&costs, &rows, &demand).expect("solve");
    // The second type is cheaper per unit of every resource; of its needs (cpu 7/4, memory
    // 30/16, pods 100/58) memory is the largest, so 1.875 of it.
    assert_close(s.objective, 0.19 * 30.0 / 16.0);
    assert_close(s.x[1], 1.875);
    assert_certificate(&costs, &rows, &demand, &s);
}

#[test]
fn zero_and_negative_demands_cost_nothing() {
    let costs = [1.0, 2.0];
    let rows = vec![vec![1.0, 3.0], vec![2.0, 0.0]];
    let s = minimize_cover(&costs, &rows, &[0.0, -5.0]).expect("solve");
    assert_eq!(s.objective, 0.0);
    assert_eq!(s.pivots, 0);
    assert_eq!(s.x, vec![0.0, 0.0]);
}

#[test]
fn degenerate_ties_and_duplicate_columns_terminate_at_the_optimum() {
    // Three columns meet at the optimum (1, 0), (0, 1), (1, 1) with costs 1, 1, 2: every optimal
    // mix costs 2; duplicates of each column make every ratio test a tie.
    let costs = [1.0, 1.0, 2.0, 1.0, 1.0, 2.0];
    let rows = vec![
        vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
    ];
    let demand = [1.0, 1.0];
    let s = minimize_cover(&costs, &rows, &demand).expect("solve");
    assert_close(s.objective, 2.0);
    assert_certificate(&costs, &rows, &demand, &s);
}

#[test]
fn a_zero_cost_column_makes_its_resource_free() {
    let costs = [0.0, 1.0];
    let rows = vec![vec![1.0, 1.0], vec![0.0, 1.0]];
    let demand = [5.0, 2.0];
    let s = minimize_cover(&costs, &rows, &demand).expect("solve");
    assert_close(s.objective, 2.0);
    assert_close(s.duals[0], 0.0);
    assert_certificate(&costs, &rows, &demand, &s);
}

#[test]
fn a_resource_no_column_provides_is_infeasible_and_named() {
    // GPUs demanded, no type has any.
    let costs = [1.0, 2.0];
    let rows = vec![vec![4.0, 8.0], vec![0.0, 0.0]];
    let err = minimize_cover(&costs, &rows, &[4.0, 1.0]).expect_err("infeasible");
    assert_eq!(err, LpError::Infeasible { row: 1 });
}

#[test]
fn bad_inputs_are_rejected_with_what_and_where() {
    let rows = vec![vec![1.0, 1.0]];
    assert_eq!(
        minimize_cover(&[1.0, -1.0], &rows, &[1.0]),
        Err(LpError::NegativeCost {
            column: 1,
            cost: -1.0
        })
    );
    assert_eq!(
        minimize_cover(&[1.0, f64::NAN], &rows, &[1.0]),
        Err(LpError::NotFinite {
            what: "cost",
            index: 1
        })
    );
    assert_eq!(
        minimize_cover(&[1.0], &rows, &[1.0]),
        Err(LpError::RowLength {
            row: 0,
            found: 2,
            expected: 1
        })
    );
    assert_eq!(
        minimize_cover(&[1.0, 1.0], &rows, &[]),
        Err(LpError::RowCount {
            rows: 1,
            demands: 0
        })
    );
    assert_eq!(
        minimize_cover(&[1.0, 1.0], &[vec![1.0, f64::INFINITY]], &[1.0]),
        Err(LpError::NotFinite {
            what: "coefficient",
            index: 1
        })
    );
}

// === brute force reference ===

/// Solves the square system `m · z = rhs` by Gaussian elimination with partial pivoting;
/// `None` when singular.
fn solve_square(mut m: Vec<Vec<f64>>, mut rhs: Vec<f64>) -> Option<Vec<f64>> {
    let n = rhs.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        rhs.swap(col, pivot);
        let pivot_row = m[col].clone();
        for r in 0..n {
            if r != col {
                let f = m[r][col] / pivot_row[col];
                for (cell, p) in m[r].iter_mut().zip(&pivot_row).skip(col) {
                    *cell -= f * p;
                }
                rhs[r] -= f * rhs[col];
            }
        }
    }
    Some((0..n).map(|i| rhs[i] / m[i][i]).collect())
}

/// The minimum over every basic feasible solution of `A x − s = b` (a bounded LP with an
/// optimum attains it at one), or `None` when no basis is feasible.
fn brute_force(costs: &[f64], rows: &[Vec<f64>], demand: &[f64]) -> Option<f64> {
    let m = rows.len();
    let n = costs.len();
    let column = |j: usize| -> Vec<f64> {
        (0..m)
            .map(|r| {
                if j < n {
                    rows[r][j]
                } else if j - n == r {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect()
    };
    let mut best: Option<f64> = None;
    for mask in 0u32..(1 << (n + m)) {
        if mask.count_ones() as usize != m {
            continue;
        }
        let chosen: Vec<usize> = (0..n + m).filter(|j| mask & (1 << j) != 0).collect();
        let cols: Vec<Vec<f64>> = chosen.iter().map(|&j| column(j)).collect();
        let matrix: Vec<Vec<f64>> = (0..m)
            .map(|r| cols.iter().map(|c| c[r]).collect())
            .collect();
        let Some(z) = solve_square(matrix, demand.to_vec()) else {
            continue;
        };
        if z.iter().any(|v| *v < -1e-9) {
            continue;
        }
        let cost: f64 = chosen
            .iter()
            .zip(&z)
            .filter(|(j, _)| **j < n)
            .map(|(j, v)| costs[*j] * v)
            .sum();
        best = Some(best.map_or(cost, |b: f64| b.min(cost)));
    }
    best
}

fn problem() -> impl Strategy<Value = (Vec<f64>, Vec<Vec<f64>>, Vec<f64>)> {
    (1usize..=3, 1usize..=6).prop_flat_map(|(m, n)| {
        // Small integers make ties, zeros and duplicate columns (degeneracy) common.
        let costs = proptest::collection::vec((0u8..6).prop_map(f64::from), n);
        let rows = proptest::collection::vec(
            proptest::collection::vec((0u8..5).prop_map(f64::from), n),
            m,
        );
        let demand = proptest::collection::vec((0u8..8).prop_map(f64::from), m);
        (costs, rows, demand)
    })
}

proptest! {
    #[test]
    fn matches_brute_force_over_all_bases((costs, rows, demand) in problem()) {
        let expected = brute_force(&costs, &rows, &demand);
        match (minimize_cover(&costs, &rows, &demand), expected) {
            (Ok(s), Some(best)) => {
                prop_assert!(close(s.objective, best), "simplex {} vs brute force {}", s.objective, best);
                assert_certificate(&costs, &rows, &demand, &s);
            }
            (Err(LpError::Infeasible { row }), None) => {
                // The reported row really is unsatisfiable on its own or with the others.
                prop_assert!(row < rows.len());
            }
            (got, want) => prop_assert!(false, "simplex {got:?} vs brute force {want:?}"),
        }
    }
}
