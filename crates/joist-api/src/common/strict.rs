//! Strict field validation: the fields of an object that its CRD schema does not declare.
//!
//! `kubectl apply` asks for `fieldValidation=Strict` by default, and for a custom resource the API
//! server then refuses an object with undeclared fields before validating anything else. It
//! answers `400 BadRequest` with one message for all of them (checked against a real
//! kube-apiserver 1.34):
//!
//! ```text
//! NodePool in version "v1" cannot be handled as a NodePool: strict decoding error:
//! unknown field "metadata.bogus", unknown field "spec.foo", unknown field "spec.template.spec.requirements[0].bar"
//! ```
//!
//! joist reports each unknown field as its own error, at its path, with the server's words:
//! `spec.foo: unknown field "spec.foo"`, in the server's order (unknown `metadata` fields first,
//! then the rest sorted as strings). The paths are the ones the server's structural pruning
//! records: `.` between fields and map keys, `[i]` for list items.
//!
//! Pruning follows the server, quirks included: a schema node without `properties` or
//! `additionalProperties` (a string, an int-or-string, an array schema given an object) declares
//! no field, so every key of an object found there is unknown; `x-kubernetes-preserve-unknown-fields`
//! keeps a node's own undeclared keys but still prunes inside its declared ones; `status` is
//! pruned too (the server decodes it before dropping it on create).

use serde_json::{Map, Value};

use crate::validation::FieldError;

/// The fields of `metav1.ObjectMeta`; any other key of `metadata` is an unknown field (the
/// server decodes metadata strictly into that type, independently of the CRD schema).
const OBJECT_META_FIELDS: [&str; 15] = [
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// The keys the server never prunes at the root of a custom resource: they are type and object
/// metadata, handled by their own decoders.
const ROOT_META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// `unknown field "<path>"`: the server's words for one undeclared field.
pub fn unknown_field(path: &str) -> FieldError {
    FieldError {
        path: path.to_owned(),
        message: format!("unknown field {path:?}"),
    }
}

/// Every field of `object` (a whole custom resource, `status` included) that `schema` (the CRD
/// version's `openAPIV3Schema`) does not declare, in the API server's order. Empty when strict
/// field validation accepts the object.
pub fn unknown_fields(object: &Value, schema: &Value) -> Vec<FieldError> {
    let Value::Object(fields) = object else {
        return Vec::new();
    };
    let mut metadata: Vec<String> = match fields.get("metadata") {
        Some(Value::Object(meta)) => meta
            .keys()
            .filter(|key| !OBJECT_META_FIELDS.contains(&key.as_str()))
            .map(|key| format!("metadata.{key}"))
            .collect(),
        _ => Vec::new(),
    };
    metadata.sort_unstable();
    let mut pruned = Vec::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, value) in fields {
        if ROOT_META_FIELDS.contains(&key.as_str()) {
            continue;
        }
        match properties.and_then(|p| p.get(key)) {
            Some(field_schema) => prune(value, Some(field_schema), key, &mut pruned),
            None => pruned.push(key.clone()),
        }
    }
    pruned.sort_unstable();
    metadata
        .iter()
        .chain(&pruned)
        .map(|path| unknown_field(path))
        .collect()
}

/// `<parent>.<key>`, or `key` at the root.
fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The schema of the object field `key`: a declared property, else the map's value schema.
fn field_schema<'s>(schema: &'s Value, key: &str) -> Option<&'s Value> {
    schema
        .get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

fn preserves_unknown_fields(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// Records the unknown fields of `value` (at `path`) under `schema`; `None` is no schema at all,
/// below which every object key is unknown.
fn prune(value: &Value, schema: Option<&Value>, path: &str, pruned: &mut Vec<String>) {
    if let Some(schema) = schema.filter(|s| preserves_unknown_fields(s)) {
        prune_declared_only(value, schema, path, pruned);
        return;
    }
    match value {
        Value::Object(fields) => prune_object(fields, schema, path, pruned),
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            for (i, item) in items.iter().enumerate() {
                prune(item, item_schema, &format!("{path}[{i}]"), pruned);
            }
        }
        _ => {}
    }
}

fn prune_object(
    fields: &Map<String, Value>,
    schema: Option<&Value>,
    path: &str,
    pruned: &mut Vec<String>,
) {
    for (key, field) in fields {
        match schema.and_then(|s| field_schema(s, key)) {
            Some(child_schema) => prune(field, Some(child_schema), &child(path, key), pruned),
            None => pruned.push(child(path, key)),
        }
    }
}

/// Below `x-kubernetes-preserve-unknown-fields`: undeclared keys stay, declared ones are pruned
/// normally.
fn prune_declared_only(value: &Value, schema: &Value, path: &str, pruned: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if let Some(child_schema) = field_schema(schema, key) {
                    prune(field, Some(child_schema), &child(path, key), pruned);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    prune_declared_only(item, item_schema, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn unknown(object: &Value, schema: &Value) -> Vec<String> {
        unknown_fields(object, schema)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "limits": {"type": "object", "additionalProperties": {"x-kubernetes-int-or-string": true}},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}}}},
                        "open": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true,
                            "properties": {"closed": {"type": "object", "properties": {"a": {"type": "string"}}}}
                        }
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn a_declared_object_has_no_unknown_fields() {
        let object = json!({
            "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "labels": {"k": "v"}},
            "spec": {"name": "n", "limits": {"cpu": 4}, "items": [{"key": "k"}], "open": {"anything": {"deep": 1}}},
            "status": {"ready": true}
        });
        assert!(unknown(&object, &schema()).is_empty());
    }

    #[test]
    fn unknown_fields_are_reported_in_the_api_servers_order_and_words() {
        let object = json!({
            "zzz": 1,
            "metadata": {"name": "a", "zMeta": 1, "aMeta": 2},
            "spec": {
                "zeta": 1,
                "items": [{"key": "k", "zb": 1, "ab": 2}, {"b": 1}],
                "limits": {"cpu": {"nested": 1}},
                "name": {"x": 1},
                "open": {"kept": 1, "closed": {"a": "x", "gone": 1}}
            },
            "status": {"bogus": 1},
            "aaa": 1
        });
        assert_eq!(
            unknown(&object, &schema()),
            [
                r#"metadata.aMeta: unknown field "metadata.aMeta""#,
                r#"metadata.zMeta: unknown field "metadata.zMeta""#,
                r#"aaa: unknown field "aaa""#,
                r#"spec.items[0].ab: unknown field "spec.items[0].ab""#,
                r#"spec.items[0].zb: unknown field "spec.items[0].zb""#,
                r#"spec.items[1].b: unknown field "spec.items[1].b""#,
                r#"spec.limits.cpu.nested: unknown field "spec.limits.cpu.nested""#,
                r#"spec.name.x: unknown field "spec.name.x""#,
                r#"spec.open.closed.gone: unknown field "spec.open.closed.gone""#,
                r#"spec.zeta: unknown field "spec.zeta""#,
                r#"status.bogus: unknown field "status.bogus""#,
                r#"zzz: unknown field "zzz""#,
            ]
        );
    }

    #[test]
    fn an_object_where_a_list_is_declared_has_only_unknown_keys() {
        // The server's pruning looks for `properties` on the list's own schema, finds none, and
        // records every key: `spec.items.key`, not a type error.
        let object = json!({"spec": {"items": {"key": "k"}}});
        assert_eq!(
            unknown(&object, &schema()),
            [r#"spec.items.key: unknown field "spec.items.key""#]
        );
    }
}
