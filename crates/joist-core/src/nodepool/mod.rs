//! The NodePool domain view used by decisions: disruption budgets (spec core §1.6) and the cron
//! schedules that open and close them.

pub mod budgets;
pub mod cron;
