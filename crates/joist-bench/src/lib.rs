//! joist's scheduling benchmarks (`cargo run --release -p joist-bench -- <case> [--json]`).
//!
//! * [`mix`]: the seeded pod mixes as plain data (upstream's `makeDiversePods` and preference
//!   pods; the AWS production-like mix), and [`convert`] into the scheduler's pods.
//! * [`lp`] and [`lower_bound`]: an exact dual-simplex LP solver and the fractional covering LP
//!   that bounds any plan's cost from below.
//! * [`rss`]: the peak RSS of this process; [`report`]: JSON lines and the table.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[path = "cases/convert.rs"]
pub mod convert;
pub mod lower_bound;
pub mod lp;
pub mod mix;
pub mod report;
pub mod rss;
