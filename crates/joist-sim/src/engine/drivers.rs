//! The disruption methods as the simulator drives them, in upstream's order (spec core §4.1):
//! Emptiness, Drift, multi-node and single-node consolidation, each a thin adapter over
//! `joist_core::disruption`.
//!
//! Every driver first checks a cheap necessary condition on the input (an empty consolidatable
//! node, a drifted node, a consolidatable node of a pool whose policy allows underutilised
//! consolidation): building the candidate set of thousands of nodes on each 10 s poll would
//! dominate long runs, and most polls have nothing to do.

use std::collections::BTreeSet;
use std::time::Duration;

use joist_core::disruption::{
    Command, ConsolidationPolicy, ConsolidationSettings, DisruptionInput, DriftedNodes,
    drift_command, empty_command, eviction_cost, multi_node_consolidation,
    single_node_consolidation, validate_command, validate_empty_command,
};
use joist_core::rng::SeededRng;
use joist_core::scheduling::SchedulingSettings;

/// Upstream's `commandValidationDelay`.
pub(crate) const VALIDATION_DELAY: Duration = Duration::from_secs(15);

/// What a pass gives a driver beside the [`DisruptionInput`].
#[derive(Debug)]
pub struct DriverContext<'a> {
    /// `Drifted=True` conditions by node name.
    pub drifted: &'a DriftedNodes,
    /// The solver's settings, for the scheduling simulations.
    pub scheduling: &'a SchedulingSettings,
    /// The `SpotToSpotConsolidation` feature gate.
    pub spot_to_spot: bool,
    /// The run's RNG (deterministic per seed).
    pub rng: &'a mut SeededRng,
}

/// One disruption method as the simulator drives it.
pub trait DisruptionDriver {
    /// The method's name for the timeline (`emptiness`, `drift`, `multi-node consolidation`).
    fn method(&self) -> &str;
    /// Decides on one pass; `None` when the method has nothing to do.
    fn decide(
        &mut self,
        input: &DisruptionInput<'_>,
        context: &mut DriverContext<'_>,
    ) -> Option<Command>;
    /// How long after the decision the command is validated (15 s for consolidation methods).
    fn validation_delay(&self) -> Duration {
        VALIDATION_DELAY
    }
    /// Re-checks `command` on the state after the delay; the command to execute (possibly a
    /// subset), or why it is abandoned.
    fn validate(
        &mut self,
        input: &DisruptionInput<'_>,
        context: &mut DriverContext<'_>,
        command: &Command,
    ) -> Result<Command, String>;
}

/// Nodes hosting a pod that counts against emptiness (a reschedulable pod with a positive
/// eviction cost, spec core §4.2).
fn occupied<'a>(input: &DisruptionInput<'a>) -> BTreeSet<&'a str> {
    input
        .snapshot
        .pods
        .iter()
        .filter(|pod| {
            !pod.is_daemonset_pod()
                && !pod.is_mirror_pod()
                && !pod.is_terminal()
                && eviction_cost(pod) > 0.0
        })
        .filter_map(|pod| pod.node_name.as_deref())
        .collect()
}

/// The Empty method (spec core §4.4).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptinessDriver;

impl DisruptionDriver for EmptinessDriver {
    fn method(&self) -> &str {
        "emptiness"
    }

    fn decide(
        &mut self,
        input: &DisruptionInput<'_>,
        _context: &mut DriverContext<'_>,
    ) -> Option<Command> {
        let occupied = occupied(input);
        let may_act = input
            .nodes
            .iter()
            .any(|(name, state)| state.consolidatable && !occupied.contains(name.as_str()));
        if !may_act {
            return None;
        }
        empty_command(input).command
    }

    fn validate(
        &mut self,
        input: &DisruptionInput<'_>,
        _context: &mut DriverContext<'_>,
        command: &Command,
    ) -> Result<Command, String> {
        validate_empty_command(input, command).map_err(|e| e.to_string())
    }
}

/// The Drift method (spec core §4.5): drifted nodes, oldest drift first, within the `Drifted`
/// budget; replacements are launched before the nodes are deleted. Upstream does not wait the
/// validation delay for drift.
#[derive(Debug, Clone, Copy, Default)]
pub struct DriftDriver;

impl DisruptionDriver for DriftDriver {
    fn method(&self) -> &str {
        "drift"
    }

    fn decide(
        &mut self,
        input: &DisruptionInput<'_>,
        context: &mut DriverContext<'_>,
    ) -> Option<Command> {
        if context.drifted.is_empty() {
            return None;
        }
        drift_command(input, context.drifted, context.scheduling, context.rng).command
    }

    fn validation_delay(&self) -> Duration {
        Duration::ZERO
    }

    fn validate(
        &mut self,
        _input: &DisruptionInput<'_>,
        _context: &mut DriverContext<'_>,
        command: &Command,
    ) -> Result<Command, String> {
        Ok(command.clone())
    }
}

/// Which consolidation method a [`ConsolidationDriver`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consolidation {
    /// Multi-node consolidation (§4.7).
    MultiNode,
    /// Single-node consolidation (§4.8).
    SingleNode,
}

/// Multi- or single-node consolidation, validated 15 s later by re-simulation (§4.11).
#[derive(Debug, Clone)]
pub struct ConsolidationDriver {
    kind: Consolidation,
    /// NodePools the single-node walk did not reach last time (they go first next time).
    unseen: Vec<String>,
}

impl ConsolidationDriver {
    /// A driver for `kind`.
    pub fn new(kind: Consolidation) -> Self {
        Self {
            kind,
            unseen: Vec::new(),
        }
    }

    fn settings(context: &DriverContext<'_>) -> ConsolidationSettings {
        ConsolidationSettings {
            scheduling: context.scheduling.clone(),
            spot_to_spot: context.spot_to_spot,
            ..ConsolidationSettings::default()
        }
    }
}

impl DisruptionDriver for ConsolidationDriver {
    fn method(&self) -> &str {
        match self.kind {
            Consolidation::MultiNode => "multi-node consolidation",
            Consolidation::SingleNode => "single-node consolidation",
        }
    }

    fn decide(
        &mut self,
        input: &DisruptionInput<'_>,
        context: &mut DriverContext<'_>,
    ) -> Option<Command> {
        let may_act = input.snapshot.nodes.iter().any(|node| {
            let pool = node.nodepool.as_deref().and_then(|p| input.pools.get(p));
            let underutilized =
                pool.is_none_or(|p| p.consolidation_policy != ConsolidationPolicy::WhenEmpty);
            underutilized
                && input
                    .nodes
                    .get(&node.name)
                    .is_some_and(|s| s.consolidatable)
        });
        if !may_act {
            return None;
        }
        let settings = Self::settings(context);
        let decision = match self.kind {
            Consolidation::MultiNode => multi_node_consolidation(input, &settings, context.rng),
            Consolidation::SingleNode => {
                single_node_consolidation(input, &settings, &self.unseen, context.rng)
            }
        };
        self.unseen = decision.unseen_nodepools;
        decision.command
    }

    fn validate(
        &mut self,
        input: &DisruptionInput<'_>,
        context: &mut DriverContext<'_>,
        command: &Command,
    ) -> Result<Command, String> {
        let settings = Self::settings(context);
        validate_command(input, &settings, command, context.rng)
            .map(|()| command.clone())
            .map_err(|e| e.to_string())
    }
}

/// The disruption methods of a default run, in upstream's order.
pub fn default_drivers() -> Vec<Box<dyn DisruptionDriver>> {
    vec![
        Box::new(EmptinessDriver),
        Box::new(DriftDriver),
        Box::new(ConsolidationDriver::new(Consolidation::MultiNode)),
        Box::new(ConsolidationDriver::new(Consolidation::SingleNode)),
    ]
}
