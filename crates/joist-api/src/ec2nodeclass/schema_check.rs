//! Checks a JSON value against the OpenAPI part of a CRD schema the way the API server does
//! (kube-openapi's validator plus apiextensions' conversion to field errors), so the schema in
//! [`super::crd()`] is the single source of types, enums, patterns, lengths, limits and ranges.
//!
//! Supported keywords: `type`, `properties`, `additionalProperties` (schema), `items`,
//! `required`, `enum`, `pattern` (via [`super::patterns::matcher`]), `maxLength`, `minLength`,
//! `maxItems`, `minItems`, `maxProperties`, `minimum`, `maximum` and
//! `x-kubernetes-preserve-unknown-fields`. CEL rules are not interpreted here.
//!
//! Messages follow the API server: kube-openapi's `<path> in body should …` texts inside
//! `Invalid value: <value>: …`, and apiextensions' `Required value`, `Unsupported value`,
//! `Too long` and `Too many` forms. Errors of the kinds apiextensions calls *blocking*
//! (required, enum, type, maxLength, maxItems, maxProperties) make the API server skip every
//! CEL rule; [`SchemaReport::blocking`] says whether one occurred.

use serde_json::{Map, Value};

use super::patterns;
use crate::validation::{FieldError, FieldPath};

/// The API server's message when CEL rules were skipped because of blocking schema errors.
pub const RULES_NOT_CHECKED: &str = "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// What the schema check found.
#[derive(Debug, Default)]
pub struct SchemaReport {
    /// Fields the schema does not declare (strict field validation rejects them).
    pub unknown: Vec<FieldError>,
    /// Violations of the schema's constraints, in document order.
    pub errors: Vec<FieldError>,
    /// Whether an error of a kind that makes the API server skip CEL validation occurred.
    pub blocking: bool,
}

/// Checks `value` (found at `path`) against `schema`.
pub fn check(schema: &Value, value: &Value, path: &FieldPath) -> SchemaReport {
    let mut report = SchemaReport::default();
    report.walk(schema, value, path);
    report
}

/// Go's `%q` rendering of a string (what the API server prints around string values).
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
                quoted.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A JSON scalar as the API server prints a bad value (`"text"`, `65`, `true`).
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => go_quote(text),
        Value::Null => "\"null\"".to_owned(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(_) => go_quote("array"),
        Value::Object(_) => go_quote("object"),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn limit(schema: &Value, keyword: &str) -> Option<u64> {
    schema.get(keyword).and_then(Value::as_u64)
}

impl SchemaReport {
    fn error(&mut self, path: &FieldPath, message: String, blocking: bool) {
        self.errors.push(FieldError::new(path, message));
        self.blocking |= blocking;
    }

    fn walk(&mut self, schema: &Value, value: &Value, path: &FieldPath) {
        // The API server drops nulls of non-nullable fields before validating.
        if value.is_null() || !self.type_matches(schema, value, path) {
            return;
        }
        self.enumeration(schema, value, path);
        match value {
            Value::Object(fields) => self.object(schema, fields, path),
            Value::Array(items) => self.array(schema, items, path),
            Value::String(text) => self.string(schema, text, path),
            Value::Number(_) => self.number(schema, value, path),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn type_matches(&mut self, schema: &Value, value: &Value, path: &FieldPath) -> bool {
        let Some(expected) = schema.get("type").and_then(Value::as_str) else {
            return true;
        };
        let actual = json_type(value);
        if actual == expected || (expected == "number" && actual == "integer") {
            return true;
        }
        let message = format!(
            "Invalid value: {0}: {path} in body must be of type {expected}: {0}",
            go_quote(actual)
        );
        self.error(path, message, true);
        false
    }

    fn enumeration(&mut self, schema: &Value, value: &Value, path: &FieldPath) {
        let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
            return;
        };
        if allowed.contains(value) {
            return;
        }
        let supported: Vec<String> = allowed
            .iter()
            .map(|v| {
                v.as_str()
                    .map_or_else(|| go_quote(&v.to_string()), go_quote)
            })
            .collect();
        let message = format!(
            "Unsupported value: {}: supported values: {}",
            describe(value),
            supported.join(", ")
        );
        self.error(path, message, true);
    }

    fn object(&mut self, schema: &Value, fields: &Map<String, Value>, path: &FieldPath) {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = required.as_str().filter(|name| !fields.contains_key(*name)) {
                self.error(&path.child(name), "Required value".to_owned(), true);
            }
        }
        if let Some(max) = limit(schema, "maxProperties").filter(|max| fields.len() as u64 > *max) {
            let message = format!("Too many: {}: must have at most {max} items", fields.len());
            self.error(path, message, true);
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema
            .get("additionalProperties")
            .filter(|extra| extra.is_object());
        let preserve =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        for (name, field) in fields {
            if let Some(field_schema) = properties.and_then(|p| p.get(name)) {
                self.walk(field_schema, field, &path.child(name));
            } else if let Some(values) = additional {
                // kube-openapi names map entries `<map>.<key>`.
                self.walk(values, field, &path.child(name));
            } else if !preserve {
                self.unknown.push(FieldError::new(
                    &path.child(name),
                    "field not declared in schema",
                ));
            }
        }
    }

    fn array(&mut self, schema: &Value, items: &[Value], path: &FieldPath) {
        if let Some(max) = limit(schema, "maxItems").filter(|max| items.len() as u64 > *max) {
            self.error(
                path,
                format!("Too many: {}: must have at most {max} items", items.len()),
                true,
            );
        }
        if let Some(min) = limit(schema, "minItems").filter(|min| (items.len() as u64) < *min) {
            let message = format!(
                "Invalid value: {}: {path} in body should have at least {min} items",
                items.len()
            );
            self.error(path, message, false);
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.walk(item_schema, item, &path.index(i));
            }
        }
    }

    fn string(&mut self, schema: &Value, text: &str, path: &FieldPath) {
        let length = text.chars().count() as u64;
        if let Some(max) = limit(schema, "maxLength").filter(|max| length > *max) {
            let unit = if max == 1 { "byte" } else { "bytes" };
            self.error(
                path,
                format!("Too long: may not be more than {max} {unit}"),
                true,
            );
        }
        if let Some(min) = limit(schema, "minLength").filter(|min| length < *min) {
            let message = format!(
                "Invalid value: {}: {path} in body should be at least {min} chars long",
                go_quote(text)
            );
            self.error(path, message, false);
        }
        if let Some(expected) = schema.get("pattern").and_then(Value::as_str) {
            // Every pattern of the EC2NodeClass CRD has a matcher (proven by a test); a pattern
            // without one cannot be checked here and is left to the API server.
            if patterns::matcher(expected).is_some_and(|matches| !matches(text)) {
                let message = format!(
                    "Invalid value: {}: {path} in body should match '{expected}'",
                    go_quote(text)
                );
                self.error(path, message, false);
            }
        }
    }

    fn number(&mut self, schema: &Value, value: &Value, path: &FieldPath) {
        let Some(actual) = value.as_f64() else {
            return;
        };
        let exceeded = |keyword: &str, beyond: fn(f64, f64) -> bool| {
            schema
                .get(keyword)
                .filter(|bound| bound.as_f64().is_some_and(|bound| beyond(actual, bound)))
        };
        if let Some(max) = exceeded("maximum", |actual, max| actual > max) {
            let message = format!(
                "Invalid value: {value}: {path} in body should be less than or equal to {max}"
            );
            self.error(path, message, false);
        }
        if let Some(min) = exceeded("minimum", |actual, min| actual < min) {
            let message = format!(
                "Invalid value: {value}: {path} in body should be greater than or equal to {min}"
            );
            self.error(path, message, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(report: &SchemaReport) -> Vec<String> {
        report.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reports_each_keyword_with_api_server_phrasing() {
        let schema = json!({
            "properties": {
                "family": {"enum": ["AL2", "AL2023"], "type": "string"},
                "hops": {"maximum": 64, "minimum": 1, "type": "integer"},
                "alias": {"maxLength": 5, "type": "string"},
                "name": {"minLength": 1, "type": "string"},
                "id": {"pattern": patterns::SUBNET_ID, "type": "string"},
                "terms": {"items": {"type": "string"}, "maxItems": 1, "minItems": 1, "type": "array"},
                "tags": {"additionalProperties": {"type": "string"}, "maxProperties": 1, "type": "object"},
            },
            "required": ["must"],
            "type": "object",
        });
        let value = json!({
            "family": "Ubuntu", "hops": 65, "alias": "toolong", "name": "", "id": "sub-1",
            "terms": ["a", "b"], "tags": {"a": "1", "b": "2"},
        });
        let report = check(&schema, &value, &FieldPath::root().child("spec"));
        assert_eq!(
            messages(&report),
            [
                "spec.must: Required value",
                r#"spec.family: Unsupported value: "Ubuntu": supported values: "AL2", "AL2023""#,
                "spec.hops: Invalid value: 65: spec.hops in body should be less than or equal to 64",
                "spec.alias: Too long: may not be more than 5 bytes",
                r#"spec.name: Invalid value: "": spec.name in body should be at least 1 chars long"#,
                r#"spec.id: Invalid value: "sub-1": spec.id in body should match 'subnet-[0-9a-z]+'"#,
                "spec.terms: Too many: 2: must have at most 1 items",
                "spec.tags: Too many: 2: must have at most 1 items",
            ]
        );
        assert!(report.blocking);
        assert!(report.unknown.is_empty());
    }

    #[test]
    fn non_blocking_errors_leave_cel_enabled() {
        let schema = json!({"properties": {"hops": {"minimum": 1, "type": "integer"}, "terms": {"minItems": 1, "type": "array"}}, "type": "object"});
        let report = check(
            &schema,
            &json!({"hops": 0, "terms": []}),
            &FieldPath::root(),
        );
        assert_eq!(
            messages(&report),
            [
                "hops: Invalid value: 0: hops in body should be greater than or equal to 1",
                "terms: Invalid value: 0: terms in body should have at least 1 items",
            ]
        );
        assert!(!report.blocking);
    }

    #[test]
    fn unknown_fields_are_reported_unless_preserved() {
        let schema = json!({
            "properties": {
                "open": {"properties": {"a": {"type": "string"}}, "type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "closed": {"properties": {"a": {"type": "string"}}, "type": "object"},
            },
            "type": "object",
        });
        let value = json!({"open": {"b": {"deep": 1}}, "closed": {"b": 1}, "other": true});
        let report = check(&schema, &value, &FieldPath::root().child("spec"));
        let unknown: Vec<String> = report.unknown.iter().map(ToString::to_string).collect();
        assert_eq!(
            unknown,
            [
                "spec.closed.b: field not declared in schema",
                "spec.other: field not declared in schema"
            ]
        );
        assert!(report.errors.is_empty());
    }

    #[test]
    fn wrong_types_block_and_stop_descent() {
        let schema =
            json!({"properties": {"n": {"minimum": 5, "type": "integer"}}, "type": "object"});
        let report = check(&schema, &json!({"n": "x"}), &FieldPath::root());
        assert_eq!(
            messages(&report),
            [r#"n: Invalid value: "string": n in body must be of type integer: "string""#]
        );
        assert!(report.blocking);
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\x01é""#);
    }
}
