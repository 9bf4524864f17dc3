//! joist's scheduling benchmarks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod lp;
