//! The OpenAPI v3 part of the API server's validation, driven by the CRD schema itself.
//!
//! Instead of hand-copying every `required`, `enum`, `pattern`, length and range check, joist walks
//! the object with the very schema it publishes in its CRDs, so the two cannot drift apart. Paths
//! and messages follow the API server (kube-openapi errors as converted by apiextensions):
//! `Required value`, `Unsupported value: "Foo": supported values: "In", "NotIn"`,
//! `Invalid value: 110: spec.weight in body should be less than or equal to 100`, ...
//! `x-kubernetes-validations` (CEL) are not evaluated here: each kind mirrors its rules in Rust,
//! and undeclared fields are [`super::strict`]'s business.

use std::collections::BTreeMap;

use serde_json::Value;

use super::pattern::Pattern;
use crate::validation::{FieldError, FieldPath};

/// Validates `value` against the structural schema `schema`, appending one error per violation.
pub fn validate_value(
    value: &Value,
    schema: &Value,
    path: &FieldPath,
    errors: &mut Vec<FieldError>,
) {
    let mut walker = Walker {
        patterns: BTreeMap::new(),
        errors,
    };
    walker.walk(value, schema, path);
}

/// Fills in the schema's `default`s the way the API server does before validating (structural
/// defaulting): in every object, an absent or `null` property with a default gets a copy of it,
/// then every property, map value and list item is defaulted in turn, including the copies.
pub fn apply_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if let Some(default) = property.get("default")
                        && map.get(name).is_none_or(Value::is_null)
                    {
                        map.insert(name.clone(), default.clone());
                    }
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, child) in map.iter_mut() {
                let declared = schema.get("properties").and_then(|p| p.get(name));
                if let Some(child_schema) = declared.or(additional) {
                    apply_defaults(child, child_schema);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

// === API server message helpers ===

/// Renders a value the way apimachinery's field errors print it (`"text"`, `42`, `true`).
pub fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        other => other.to_string(),
    }
}

/// Go's `%q` rendering of a string, which the API server uses for string values in messages:
/// quotes, backslashes and control characters escaped (`\n`, `\x01`, `\u0085`), everything
/// else printed as it is.
pub fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                quoted.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                quoted.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `Required value`.
pub fn required(path: &FieldPath) -> FieldError {
    FieldError::new(path, "Required value")
}

/// `Unsupported value: "Foo": supported values: "a", "b"`.
pub fn not_supported(path: &FieldPath, value: &Value, supported: &[&str]) -> FieldError {
    let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
    FieldError::new(
        path,
        format!(
            "Unsupported value: {}: supported values: {}",
            render_value(value),
            list.join(", ")
        ),
    )
}

/// `Invalid value: <value>: <detail>`.
pub fn invalid(path: &FieldPath, value: &Value, detail: &str) -> FieldError {
    FieldError::new(
        path,
        format!("Invalid value: {}: {detail}", render_value(value)),
    )
}

/// `Invalid value: "x": <path> in body should match '<pattern>'`.
pub fn pattern_mismatch(path: &FieldPath, value: &str, pattern: &str) -> FieldError {
    invalid(
        path,
        &Value::String(value.to_owned()),
        &format!("{path} in body should match '{pattern}'"),
    )
}

/// `Duplicate value: "x"`.
pub fn duplicate(path: &FieldPath, value: &Value) -> FieldError {
    FieldError::new(path, format!("Duplicate value: {}", render_value(value)))
}

/// The JSON type name kube-openapi reports for a value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if is_integer(n) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Integers as the API server's JSON decoder sees them (a float without fraction counts).
fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

// === impl Walker ===

struct Walker<'e> {
    /// Compiled patterns by source text, so each is compiled once per validation.
    patterns: BTreeMap<String, Option<Pattern>>,
    errors: &'e mut Vec<FieldError>,
}

impl Walker<'_> {
    fn walk(&mut self, value: &Value, schema: &Value, path: &FieldPath) {
        // Explicit nulls are dropped by the API server for non-nullable fields.
        if value.is_null() {
            return;
        }
        let type_ok = self.check_type(value, schema, path);
        // kube-openapi checks `enum` whatever the value's type (`Unsupported value: 5: ...` after
        // the type error), but the type-specific keywords only on a value of the right type.
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            let names: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
            self.errors.push(not_supported(path, value, &names));
        }
        if !type_ok {
            return;
        }
        match value {
            Value::String(s) => self.check_string(s, schema, path),
            Value::Number(n) => self.check_number(n, schema, path),
            Value::Object(map) => self.check_object(map, schema, path),
            Value::Array(items) => self.check_array(items, schema, path),
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn check_type(&mut self, value: &Value, schema: &Value, path: &FieldPath) -> bool {
        let int_or_string = schema
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true);
        let expected = if int_or_string {
            "integer,string"
        } else {
            match schema.get("type").and_then(Value::as_str) {
                Some(t) => t,
                None => return true,
            }
        };
        let actual = type_name(value);
        let ok = expected
            .split(',')
            .any(|t| t == actual || (t == "number" && actual == "integer"));
        if !ok {
            let actual_value = Value::String(actual.to_owned());
            let detail = format!("{path} in body must be of type {expected}: {actual:?}");
            self.errors.push(invalid(path, &actual_value, &detail));
            if int_or_string {
                // kube-openapi then reports the failed `anyOf` (without a path) and the error of
                // its first branch, `type: integer`.
                let any_of = format!(
                    "{:?} must validate at least one schema (anyOf)",
                    path.to_string()
                );
                self.errors.push(FieldError {
                    path: "<nil>".to_owned(),
                    message: format!("Invalid value: \"\": {any_of}"),
                });
                let detail = format!("{path} in body must be of type integer: {actual:?}");
                self.errors.push(invalid(path, &actual_value, &detail));
            }
        }
        ok
    }

    /// `maxLength`, `minLength` and `pattern`; like kube-openapi, only the first failure counts.
    fn check_string(&mut self, s: &str, schema: &Value, path: &FieldPath) {
        let chars = s.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            let unit = if max == 1 { "byte" } else { "bytes" };
            self.errors.push(FieldError::new(
                path,
                format!("Too long: may not be more than {max} {unit}"),
            ));
            return;
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            let detail = format!("{path} in body should be at least {min} chars long");
            self.errors
                .push(invalid(path, &Value::String(s.to_owned()), &detail));
            return;
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            let compiled = self
                .patterns
                .entry(pattern.to_owned())
                .or_insert_with(|| Pattern::new(pattern).ok());
            match compiled {
                Some(p) if p.is_match(s) => {}
                // An uncompilable pattern in our own schema is a joist bug; report it rather than
                // silently accepting (the CRD tests make sure every pattern compiles).
                _ => self.errors.push(pattern_mismatch(path, s, pattern)),
            }
        }
    }

    fn check_number(&mut self, n: &serde_json::Number, schema: &Value, path: &FieldPath) {
        let Some(v) = n.as_f64() else { return };
        let value = Value::Number(n.clone());
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && v < min
        {
            let detail = format!(
                "{path} in body should be greater than or equal to {}",
                schema["minimum"]
            );
            self.errors.push(invalid(path, &value, &detail));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && v > max
        {
            let detail = format!(
                "{path} in body should be less than or equal to {}",
                schema["maximum"]
            );
            self.errors.push(invalid(path, &value, &detail));
        }
    }

    fn check_object(
        &mut self,
        map: &serde_json::Map<String, Value>,
        schema: &Value,
        path: &FieldPath,
    ) {
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && map.len() as u64 > max
        {
            self.errors.push(too_many(path, map.len(), max));
        }
        if let Some(required_fields) = schema.get("required").and_then(Value::as_array) {
            for name in required_fields.iter().filter_map(Value::as_str) {
                if map.get(name).is_none_or(Value::is_null) {
                    self.errors.push(required(&path.child(name)));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        for (key, child) in map {
            if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                self.walk(child, child_schema, &path.child(key));
            } else if let Some(child_schema) = additional {
                // kube-openapi names map entries `<path>.<key>`.
                self.walk(child, child_schema, &path.child(key));
            }
        }
    }

    fn check_array(&mut self, items: &[Value], schema: &Value, path: &FieldPath) {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            let detail = format!("{path} in body should have at least {min} items");
            self.errors
                .push(invalid(path, &Value::from(items.len()), &detail));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            self.errors.push(too_many(path, items.len(), max));
        }
        match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        self.errors.push(duplicate(&path.index(i), item));
                    }
                }
            }
            Some("map") => self.check_map_list(items, schema, path),
            _ => {}
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.walk(item, item_schema, &path.index(i));
            }
        }
    }
}

impl Walker<'_> {
    /// `x-kubernetes-list-type: map`: no two items may share their key fields. Go prints the
    /// duplicate key with `%#v`: `map[string]interface {}{"type":"Ready"}`.
    fn check_map_list(&mut self, items: &[Value], schema: &Value, path: &FieldPath) {
        let key_names: Vec<&str> = schema
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let key_of = |item: &Value| -> Vec<Value> {
            key_names
                .iter()
                .map(|k| item.get(*k).cloned().unwrap_or(Value::Null))
                .collect()
        };
        for (i, item) in items.iter().enumerate() {
            let key = key_of(item);
            if items[..i].iter().any(|earlier| key_of(earlier) == key) {
                let fields: Vec<String> = key_names
                    .iter()
                    .zip(&key)
                    .map(|(name, value)| format!("{name:?}:{value}"))
                    .collect();
                self.errors.push(FieldError::new(
                    &path.index(i),
                    format!(
                        "Duplicate value: map[string]interface {{}}{{{}}}",
                        fields.join(", ")
                    ),
                ));
            }
        }
    }
}

/// `Too many: 101: must have at most 100 items`.
fn too_many(path: &FieldPath, actual: usize, max: u64) -> FieldError {
    FieldError::new(
        path,
        format!("Too many: {actual}: must have at most {max} items"),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(value: &Value, schema: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        validate_value(value, schema, &FieldPath::root().child("spec"), &mut errors);
        errors.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn reports_like_the_api_server() {
        let schema = json!({
            "type": "object",
            "required": ["op"],
            "properties": {
                "op": {"type": "string", "enum": ["In", "NotIn"]},
                "weight": {"type": "integer", "minimum": 1, "maximum": 100},
                "key": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 1, "x-kubernetes-list-type": "set",
                          "items": {"type": "string"}},
            }
        });
        let errors = check(
            &json!({"op": "Foo", "weight": 110, "key": "AB1c", "tags": ["a", "a"]}),
            &schema,
        );
        assert_eq!(
            errors,
            vec![
                r#"spec.op: Unsupported value: "Foo": supported values: "In", "NotIn""#,
                "spec.weight: Invalid value: 110: spec.weight in body should be less than or equal to 100",
                "spec.key: Too long: may not be more than 3 bytes",
                "spec.tags: Too many: 2: must have at most 1 items",
                r#"spec.tags[1]: Duplicate value: "a""#,
            ]
        );
        assert_eq!(check(&json!({}), &schema), vec!["spec.op: Required value"]);
        assert_eq!(
            check(&json!({"op": "In", "weight": "x"}), &schema),
            vec![
                r#"spec.weight: Invalid value: "string": spec.weight in body must be of type integer: "string""#
            ]
        );
    }

    #[test]
    fn min_items_and_go_quoting() {
        let schema = json!({
            "type": "object",
            "properties": {
                "terms": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "name": {"type": "string", "pattern": "^[a-z]+$"},
            }
        });
        assert_eq!(
            check(&json!({"terms": [], "name": "a\u{1}\"\u{85}é"}), &schema),
            vec![
                "spec.terms: Invalid value: 0: spec.terms in body should have at least 1 items",
                r#"spec.name: Invalid value: "a\x01\"\u0085é": spec.name in body should match '^[a-z]+$'"#,
            ]
        );
    }

    #[test]
    fn defaults_fill_absent_and_null_fields_top_down() {
        let schema = json!({
            "type": "object",
            "properties": {
                "disruption": {
                    "type": "object",
                    "default": {"after": "0s"},
                    "properties": {
                        "after": {"type": "string"},
                        "budgets": {"type": "array", "default": [{}], "items": {
                            "type": "object",
                            "properties": {"nodes": {"type": "string", "default": "10%"}}
                        }}
                    }
                },
                "weight": {"type": "integer", "default": 1},
                "name": {"type": "string"}
            }
        });
        let mut value = json!({"weight": null});
        apply_defaults(&mut value, &schema);
        assert_eq!(
            value,
            json!({"weight": 1, "disruption": {"after": "0s", "budgets": [{"nodes": "10%"}]}})
        );
        let mut kept = json!({"weight": 5, "disruption": {"budgets": [{"nodes": "1"}, {}]}});
        apply_defaults(&mut kept, &schema);
        assert_eq!(
            kept,
            json!({"weight": 5, "disruption": {"budgets": [{"nodes": "1"}, {"nodes": "10%"}]}})
        );
    }

    #[test]
    fn int_or_string_and_maps() {
        let schema = json!({
            "type": "object",
            "additionalProperties": {"x-kubernetes-int-or-string": true, "pattern": "^[0-9]+$"}
        });
        assert!(check(&json!({"cpu": 4, "memory": "16"}), &schema).is_empty());
        assert_eq!(
            check(&json!({"cpu": "4x", "gpu": true}), &schema),
            vec![
                r#"spec.cpu: Invalid value: "4x": spec.cpu in body should match '^[0-9]+$'"#,
                r#"spec.gpu: Invalid value: "boolean": spec.gpu in body must be of type integer,string: "boolean""#,
                r#"<nil>: Invalid value: "": "spec.gpu" must validate at least one schema (anyOf)"#,
                r#"spec.gpu: Invalid value: "boolean": spec.gpu in body must be of type integer: "boolean""#,
            ]
        );
    }
}
