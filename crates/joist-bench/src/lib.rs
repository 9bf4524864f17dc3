//! joist's scheduling benchmarks (`cargo run --release -p joist-bench -- <case> [--json]`).
//!
//! * [`mix`]: the seeded pod mixes as plain data (upstream's `makeDiversePods` and preference
//!   pods; the AWS production-like mix).
//! * [`cases`]: each case's snapshot (NodePools, instance types, pods), the all-placed check and
//!   the plan's cost.
//! * [`lp`] and [`lower_bound`]: an exact dual-simplex LP solver and the fractional covering LP
//!   that bounds any plan's cost from below; [`fit_bound`]: a tighter bound that knows each pod
//!   must fit on one node.
//! * [`runner`]: timing `solve()` and running each size in a fresh child process; [`rss`]: the
//!   peak RSS of that process; [`report`]: JSON lines and the table.
//!
//! `docs/benchmarks.md` documents the cases, the measurements and the results.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cases;
pub mod fit_bound;
pub mod lower_bound;
pub mod lp;
pub mod mix;
pub mod report;
pub mod rss;
pub mod runner;
