//! Running a consolidation command (spec core §4.7, §4.8, §4.11, §4.12): taint the candidates,
//! wait the validation delay, re-validate with `validate_command`, launch the replacements and
//! wait until every one is `Initialized`, then delete the candidates' NodeClaims. Any failure
//! untaints the candidates (a replacement already launched stays; emptiness removes it if it
//! ends up unused).

use std::time::{Duration, Instant};

use joist_core::disruption::{Command, ConsolidationSettings, validate_command};
use joist_core::rng::SeededRng;
use kube::Api;
use kube::api::PostParams;
use kube::runtime::reflector::ObjectRef;

use super::facts::{Facts, condition_true};
use super::observe::{MethodKind, claim_ref, metric_reason};
use super::{Disruption, DisruptionError, Pass, delete_nodeclaim, taint, untaint};
use crate::events;
use crate::lifecycle::INITIALIZED;
use crate::objects::NodeClaimObject;
use crate::provider::CloudProvider;
use crate::provisioner::{nodeclaim::nodeclaim_object, scheduling_settings};

/// `Launched`: a replacement's instance exists.
const LAUNCHED: &str = "Launched";
/// How often replacements are checked while they come up.
const REPLACEMENT_POLL: Duration = Duration::from_secs(1);
/// The longest a command waits for its replacements (upstream: at least 10 min).
const REPLACEMENT_TIMEOUT: Duration = Duration::from_secs(600);

/// Consolidation's options for the controller: AWS scheduling settings and the
/// `SpotToSpotConsolidation` gate.
pub fn consolidation_settings(spot_to_spot: bool) -> ConsolidationSettings {
    ConsolidationSettings {
        scheduling: scheduling_settings(),
        spot_to_spot,
        ..ConsolidationSettings::default()
    }
}

impl<P: CloudProvider> Disruption<P> {
    /// Runs a consolidation (delete or replace) command; see the module docs.
    pub(super) async fn execute_consolidation(
        &mut self,
        command: Command,
        rng: &mut SeededRng,
        kind: MethodKind,
    ) -> Result<Pass, DisruptionError> {
        self.log_command(&command);
        let Some(tainted) = self.taint_all(&command).await? else {
            return Ok(Pass::Idle);
        };
        tokio::time::sleep(self.validation_delay).await;
        let facts = self.facts();
        if let Err(error) = validate_command(&facts.input(), &self.consolidation, &command, rng) {
            tracing::debug!(controller = "disruption", reason = %error.reason, error = %error, "consolidation rejected");
            self.metrics
                .failed_validations
                .inc(&[kind.consolidation_type()]);
            let message = error.event_message(&command);
            for candidate in &command.candidates {
                self.publish_on_both(&facts, &candidate.node, |object| {
                    events::consolidation_rejected(object, &message)
                })
                .await;
            }
            self.untaint_nodes(&tainted).await?;
            return Ok(Pass::Idle);
        }
        self.launch_then_delete(command, tainted, facts, kind).await
    }

    /// The orchestration queue's part (§4.12) for tainted candidates: launch the replacements,
    /// wait until every one is initialized, then delete the candidates' NodeClaims. A failure
    /// untaints the candidates.
    pub(super) async fn launch_then_delete(
        &mut self,
        command: Command,
        tainted: Vec<String>,
        facts: Facts,
        kind: MethodKind,
    ) -> Result<Pass, DisruptionError> {
        let replacements = match self.launch_replacements(&command).await {
            Ok(names) => names,
            Err(error) => {
                self.untaint_nodes(&tainted).await?;
                return Err(error);
            }
        };
        self.record_decision(&command, kind);
        if !self.await_initialized(&replacements, &command).await {
            tracing::error!(controller = "disruption", replacements = ?replacements, "failed terminating nodes while executing a disruption command");
            self.record_queue_failure(&command);
            self.untaint_nodes(&tainted).await?;
            return Ok(Pass::Idle);
        }
        self.nominate(
            replacements
                .into_iter()
                .chain(command.destinations.iter().cloned()),
        );
        for candidate in &command.candidates {
            if let Some(claim) = facts.nodeclaim_of(&candidate.node) {
                self.deleting.insert(candidate.node.clone());
                delete_nodeclaim(&self.client, claim).await?;
                self.record_terminating(&facts, &command, candidate).await;
            }
        }
        Ok(Pass::Acted)
    }

    /// Taints every candidate; `None` (after untainting what was tainted) when one fails, since
    /// a partial replace would move pods the replacements were not sized for.
    pub(super) async fn taint_all(
        &self,
        command: &Command,
    ) -> Result<Option<Vec<String>>, DisruptionError> {
        let mut tainted = Vec::new();
        for candidate in &command.candidates {
            let node = self.index.nodes.get(&ObjectRef::new(&candidate.node));
            let result = match node {
                Some(node) => {
                    let result = taint(&self.client, &node).await;
                    if result.is_ok() {
                        self.mark_reason(&node, Some(command.reason.as_str())).await;
                    }
                    result
                }
                None => Ok(()),
            };
            if let Err(error) = result {
                tracing::error!(controller = "disruption", Node = %candidate.node, error = %error, "tainting a candidate failed");
                self.untaint_nodes(&tainted).await?;
                return Ok(None);
            }
            tainted.push(candidate.node.clone());
        }
        Ok(Some(tainted))
    }

    /// Removes the disrupted taint from `nodes` (as the store has them now) and the
    /// `DisruptionReason` from their NodeClaims.
    pub(super) async fn untaint_nodes(&self, nodes: &[String]) -> Result<(), DisruptionError> {
        for name in nodes {
            if let Some(node) = self.index.nodes.get(&ObjectRef::new(name)) {
                untaint(&self.client, &node).await?;
                self.mark_reason(&node, None).await;
            }
        }
        Ok(())
    }

    /// Creates the command's replacement NodeClaims; their names.
    async fn launch_replacements(&self, command: &Command) -> Result<Vec<String>, DisruptionError> {
        let api: Api<NodeClaimObject> = Api::all(self.client.clone());
        let mut names = Vec::with_capacity(command.replacements.len());
        for replacement in &command.replacements {
            let planned = &replacement.nodeclaim;
            let uid = self
                .index
                .nodepools
                .find(|pool| pool.0.name() == planned.nodepool)
                .and_then(|pool| pool.0.metadata.uid.clone())
                .unwrap_or_default();
            let object = NodeClaimObject(nodeclaim_object(planned, &uid));
            let created = api.create(&PostParams::default(), &object).await?;
            let name = created.0.name().to_owned();
            self.metrics.nodeclaims_created.inc(&[
                &metric_reason(command.reason),
                &planned.nodepool,
                if planned.min_values_relaxed {
                    "true"
                } else {
                    "false"
                },
            ]);
            tracing::info!(controller = "disruption", NodeClaim = %name, NodePool = %planned.nodepool, reason = %command.reason, "created nodeclaim");
            names.push(name);
        }
        Ok(names)
    }

    /// Waits until every NodeClaim in `names` is `Initialized=True`, publishing
    /// `DisruptionLaunching` while one is not launched and `DisruptionWaitingReadiness` while
    /// one is not initialized; false when one disappears or [`REPLACEMENT_TIMEOUT`] passes.
    async fn await_initialized(&self, names: &[String], command: &Command) -> bool {
        let began = Instant::now();
        let mut seen = vec![false; names.len()];
        while began.elapsed() < REPLACEMENT_TIMEOUT {
            let mut all = true;
            for (name, seen) in names.iter().zip(seen.iter_mut()) {
                match self.index.nodeclaims.get(&ObjectRef::new(name)) {
                    Some(claim) => {
                        *seen = true;
                        let initialized = condition_true(&claim.0, INITIALIZED);
                        all &= initialized;
                        if !condition_true(&claim.0, LAUNCHED) {
                            let event = events::disruption_launching(
                                &claim_ref(&claim.0),
                                command.reason.as_str(),
                            );
                            self.publish(event).await;
                        } else if !initialized {
                            let event = events::disruption_waiting_readiness(&claim_ref(&claim.0));
                            self.publish(event).await;
                        }
                    }
                    // Not in the watch yet is fine; gone after being seen is unrecoverable.
                    None if *seen => return false,
                    None => all = false,
                }
            }
            if all {
                return true;
            }
            tokio::time::sleep(REPLACEMENT_POLL).await;
        }
        false
    }
}
