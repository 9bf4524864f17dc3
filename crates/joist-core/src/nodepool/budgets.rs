//! Disruption budgets (being written).
