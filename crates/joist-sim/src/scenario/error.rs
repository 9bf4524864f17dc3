//! Why a scenario cannot be loaded: every variant names the document, the object and the field.

use joist_api::convert::ConvertError;
use joist_api::document::{DocumentError, Position};
use joist_api::validation::FieldError;
use thiserror::Error;

use super::SUPPORTED_KINDS;

/// Why a scenario cannot be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// A document is not a readable object (YAML, types, missing `apiVersion`/`kind`/name).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A kind the simulator does not take.
    #[error(
        "{at}: {kind}/{name}: {api_version} {kind} is not supported in scenarios (supported: {SUPPORTED_KINDS})"
    )]
    UnsupportedKind {
        /// Where the object starts.
        at: Position,
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
        /// Its name.
        name: String,
    },
    /// A NodePool or EC2NodeClass that `joist validate` rejects.
    #[error("{at}: {kind}/{name}: {}", join(errors))]
    Invalid {
        /// Where the object starts.
        at: Position,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// Every problem, as `joist validate` reports them.
        errors: Vec<FieldError>,
    },
    /// An object the conversion to the scheduling model refuses.
    #[error("{at}: {kind}/{name}: {source}")]
    Convert {
        /// Where the object starts.
        at: Position,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// The conversion's error (names the field); boxed to keep the error small.
        source: Box<ConvertError>,
    },
    /// A field of the Scenario object with a value the simulator cannot use.
    #[error("{at}: Scenario/{name}: {field}: {reason}")]
    Scenario {
        /// Where the Scenario starts.
        at: Position,
        /// Its name.
        name: String,
        /// The field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A step kind this version does not simulate (never skipped silently).
    #[error(
        "{at}: Scenario/{name}: spec.steps[{index}]: step \"{step}\" is not supported yet (supported: scale, apply, delete, interrupt)"
    )]
    StepNotSupported {
        /// Where the Scenario starts.
        at: Position,
        /// Its name.
        name: String,
        /// Index of the step.
        index: usize,
        /// The step's kind (its key besides `at`).
        step: String,
    },
    /// The object of an `apply` step is not valid.
    #[error("{at}: Scenario/{name}: {field}: {source}")]
    Step {
        /// Where the Scenario starts.
        at: Position,
        /// Its name.
        name: String,
        /// The step's field path (`spec.steps[2].apply`).
        field: String,
        /// What is wrong with the object (positions count within the step's object).
        source: Box<LoadError>,
    },
    /// More than one Scenario object.
    #[error("{at}: Scenario/{name}: a scenario file holds at most one Scenario object")]
    DuplicateScenario {
        /// Where the second Scenario starts.
        at: Position,
        /// Its name.
        name: String,
    },
    /// A scale step names a Deployment the scenario does not have.
    #[error(
        "spec.steps[{index}].scale: Deployment {namespace}/{deployment} is not in the scenario"
    )]
    UnknownDeployment {
        /// Index of the step.
        index: usize,
        /// The namespace named.
        namespace: String,
        /// The Deployment named.
        deployment: String,
    },
    /// The file holds no object at all.
    #[error("the scenario holds no objects")]
    Empty,
}

pub(crate) fn join(errors: &[FieldError]) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join("; ")
}
