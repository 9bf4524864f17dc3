//! The kinds `joist validate` understands, as a table: each entry maps an `apiVersion` and `kind`
//! to a function that decodes, defaults and validates one document of that kind.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Document, DocumentError, Position};
use crate::common::ValidationOptions;
use crate::common::check;
use crate::common::openapi::apply_defaults;
use crate::common::strict::unknown_fields;
use crate::ec2nodeclass::{self, EC2NodeClass};
use crate::nodeclaim::{self, NodeClaim};
use crate::nodepool::{self, NodePool};
use crate::validation::FieldError;

/// Decodes one document as its kind, applies defaults and returns its field errors, validating
/// under the provider's label policy in `ValidationOptions`.
pub type CheckFn = fn(&Document<'_>, &ValidationOptions) -> Result<Vec<FieldError>, DocumentError>;

/// One kind `joist validate` understands.
#[derive(Debug, Clone, Copy)]
pub struct KindEntry {
    /// The apiVersion it is served at, e.g. `karpenter.sh/v1`.
    pub api_version: &'static str,
    /// The kind, e.g. `NodePool`.
    pub kind: &'static str,
    /// How to check one document of it; usually
    /// `|doc, options| check_strict_as(doc, &schema, defaults, validate)`.
    pub check: CheckFn,
}

/// The kinds joist validates, in the order they are listed to users.
pub static KINDS: &[KindEntry] = &[
    KindEntry {
        api_version: nodepool::API_VERSION,
        kind: nodepool::KIND,
        check: |document, options| {
            check_strict_as(
                document,
                &nodepool::schema(&options.labels),
                NodePool::with_defaults,
                |nodepool| nodepool::validate_with(nodepool, options),
            )
        },
    },
    KindEntry {
        api_version: nodeclaim::API_VERSION,
        kind: nodeclaim::KIND,
        check: |document, options| {
            check_strict_as(
                document,
                &nodeclaim::schema(&options.labels),
                NodeClaim::with_defaults,
                |nodeclaim| nodeclaim::validate_with(nodeclaim, options),
            )
        },
    },
    KindEntry {
        api_version: ec2nodeclass::API_VERSION,
        kind: ec2nodeclass::KIND,
        check: |document, _| {
            check_strict_as(
                document,
                &ec2nodeclass::schema(),
                EC2NodeClass::with_defaults,
                ec2nodeclass::validate,
            )
        },
    },
];

/// Decodes `document` as a `T`, applies `defaults` the way the API server would before admission,
/// and runs `validate` on the result.
pub fn check_as<T: DeserializeOwned>(
    document: &Document<'_>,
    defaults: impl FnOnce(T) -> T,
    validate: impl FnOnce(&T) -> Vec<FieldError>,
) -> Result<Vec<FieldError>, DocumentError> {
    let object = defaults(document.decode::<T>()?);
    Ok(validate(&object))
}

/// [`check_as`] after the checks the API server makes on the document as written, against
/// `schema` (the kind's `openAPIV3Schema`), that stop it before anything else:
///
/// * strict field validation, as `kubectl apply` asks for it: a document with undeclared fields
///   is refused with only those. The typed object cannot show what its types do not keep
///   (unknown `metadata` fields) or cannot read (a map where a list belongs).
/// * values of the wrong type (and the other blocking schema errors: required, enum, too long,
///   too many), checked with the schema's defaults applied. The server reports them, the other
///   schema errors and that it did not run the CEL rules; the typed object cannot be trusted to
///   show them, since it either fails to read (`weight: heavy`) or quietly turns a number into
///   text (`role: 5`).
///
/// Everything else (the full schema check, CEL rules, runtime checks) is `validate`'s, on the
/// typed and defaulted object.
pub fn check_strict_as<T: DeserializeOwned>(
    document: &Document<'_>,
    schema: &Value,
    defaults: impl FnOnce(T) -> T,
    validate: impl FnOnce(&T) -> Vec<FieldError>,
) -> Result<Vec<FieldError>, DocumentError> {
    let mut as_written = document.decode::<Value>()?;
    let unknown = unknown_fields(&as_written, schema);
    if !unknown.is_empty() {
        return Ok(unknown);
    }
    apply_defaults(&mut as_written, schema);
    let mut errors = Vec::new();
    check::admit(&as_written, schema, false, &mut errors, |_| {}, |_| {});
    if errors.iter().any(|e| e.message == check::CEL_SKIPPED) {
        return Ok(errors);
    }
    check_as(document, defaults, validate)
}

/// A Karpenter kind of an API version before v1, and what replaced it.
#[derive(Debug)]
struct OldKind {
    api_version: &'static str,
    kind: &'static str,
    current_api_version: &'static str,
    current_kind: &'static str,
}

/// Karpenter's earlier APIs that users may still have manifests of. v1beta1 kept the kind names;
/// v1alpha5 `Provisioner`/`Machine` and v1alpha1 `AWSNodeTemplate` were renamed in v1beta1.
const OLD_KINDS: &[OldKind] = &[
    old(
        "karpenter.sh/v1beta1",
        "NodePool",
        "karpenter.sh/v1",
        "NodePool",
    ),
    old(
        "karpenter.sh/v1beta1",
        "NodeClaim",
        "karpenter.sh/v1",
        "NodeClaim",
    ),
    old(
        "karpenter.sh/v1alpha5",
        "Provisioner",
        "karpenter.sh/v1",
        "NodePool",
    ),
    old(
        "karpenter.sh/v1alpha5",
        "Machine",
        "karpenter.sh/v1",
        "NodeClaim",
    ),
    old(
        "karpenter.k8s.aws/v1beta1",
        "EC2NodeClass",
        "karpenter.k8s.aws/v1",
        "EC2NodeClass",
    ),
    old(
        "karpenter.k8s.aws/v1alpha1",
        "AWSNodeTemplate",
        "karpenter.k8s.aws/v1",
        "EC2NodeClass",
    ),
];

const fn old(
    api_version: &'static str,
    kind: &'static str,
    current_api_version: &'static str,
    current_kind: &'static str,
) -> OldKind {
    OldKind {
        api_version,
        kind,
        current_api_version,
        current_kind,
    }
}

/// The entry of `kinds` for `api_version` and `kind`, or an error that tells the user what joist
/// accepts instead.
pub fn find_kind<'k>(
    kinds: &'k [KindEntry],
    api_version: &str,
    kind: &str,
    at: Position,
) -> Result<&'k KindEntry, DocumentError> {
    if let Some(entry) = kinds
        .iter()
        .find(|e| e.api_version == api_version && e.kind == kind)
    {
        return Ok(entry);
    }
    if let Some(old) = OLD_KINDS
        .iter()
        .find(|o| o.api_version == api_version && o.kind == kind)
    {
        return Err(DocumentError::OldVersion {
            at,
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            current_api_version: old.current_api_version,
            current_kind: old.current_kind,
        });
    }
    Err(DocumentError::UnknownKind {
        at,
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        supported: supported_kinds(kinds),
    })
}

/// `karpenter.sh/v1 NodePool, NodeClaim and karpenter.k8s.aws/v1 EC2NodeClass`: kinds grouped by
/// apiVersion in table order.
fn supported_kinds(kinds: &[KindEntry]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for entry in kinds {
        match groups
            .iter_mut()
            .find(|(api_version, _)| *api_version == entry.api_version)
        {
            Some((_, names)) => names.push(entry.kind),
            None => groups.push((entry.api_version, vec![entry.kind])),
        }
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(api_version, names)| format!("{api_version} {}", names.join(", ")))
        .collect();
    match groups.split_last() {
        None => "no kinds".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wired_kinds_are_listed_as_users_expect() {
        assert_eq!(
            supported_kinds(KINDS),
            "karpenter.sh/v1 NodePool, NodeClaim and karpenter.k8s.aws/v1 EC2NodeClass",
        );
    }
}
