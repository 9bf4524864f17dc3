//! Provider-neutral instance types (spec core §1.7): what a cloud provider offers the scheduler.

/// Where an offering's price comes from, so reports can tell real prices from derived ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum PriceSource {
    /// A published or observed price (list price, observed spot price, reservation pricing rule).
    #[default]
    Exact,
    /// A price the provider derived because no real one was available (e.g. a spot estimate).
    Estimated,
}
