//! Second pass over a document: reading it as a typed object.
//!
//! serde_path_to_error supplies the field path of a failure and serde_yaml_ng the line of the
//! offending node; together they give `document 1 (line 12): spec.weight: invalid type: string
//! "heavy", expected i32`.

use serde::de::DeserializeOwned;

use super::{Document, DocumentError};

impl Document<'_> {
    /// Reads the document as a `T`.
    ///
    /// Call [`Document::header`] first: only it rejects duplicate keys, which typed decoding
    /// would silently resolve inside maps.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DocumentError> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(self.text);
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = match error.path().to_string() {
                root if root == "." => String::new(),
                path => path,
            };
            let inner = error.inner();
            DocumentError::Decode {
                at: self.position_of(inner),
                message: bare_message(inner, &path),
                path,
            }
        })
    }
}

/// serde_yaml_ng's message without the path prefix and position suffix it adds itself, since the
/// error carries both separately. Its path is the node being read, which for an unknown field is
/// the parent of serde_path_to_error's `path`, so any leading part of `path` is accepted.
fn bare_message(error: &serde_yaml_ng::Error, path: &str) -> String {
    let full = error.to_string();
    let mut message = full.as_str();
    if let Some(location) = error.location() {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        message = message.strip_suffix(&suffix).unwrap_or(message);
    }
    if let Some((prefix, rest)) = message.split_once(": ") {
        let leads_path = path
            .strip_prefix(prefix)
            .is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']));
        if !prefix.is_empty() && leads_path {
            message = rest;
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::super::split;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // fields exist to be decoded
    struct Object {
        spec: Spec,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        weight: Option<i32>,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        operator: Operator,
    }

    #[derive(Debug, Deserialize)]
    enum Operator {
        In,
        NotIn,
    }

    fn decode_error(input: &str) -> String {
        let documents = split(input);
        let last = documents.last().expect("a document");
        last.decode::<Object>().expect_err("an error").to_string()
    }

    #[test]
    fn wrong_type_names_path_and_input_line() {
        let input = "kind: X\n---\n# weights\nspec:\n  labels: {a: b}\n  weight: \"heavy\"\n";
        assert_eq!(
            decode_error(input),
            "document 2 (line 6): spec.weight: invalid type: string \"heavy\", expected i32",
        );
    }

    #[test]
    fn errors_inside_lists_and_enums_keep_their_index() {
        let input = "spec:\n  items:\n  - operator: In\n  - operator: Exists\n";
        assert_eq!(
            decode_error(input),
            "document 1 (line 4): spec.items[1].operator: unknown variant `Exists`, expected `In` or `NotIn`",
        );
    }

    #[test]
    fn missing_fields_and_unknown_fields_are_reported() {
        assert_eq!(
            decode_error("metadata: {}\n"),
            "document 1 (line 1): missing field `spec`"
        );
        assert_eq!(
            decode_error("spec:\n  wieght: 3\n"),
            "document 1 (line 2): spec.wieght: unknown field `wieght`, expected one of `weight`, `items`, `labels`",
        );
    }

    /// Why [`Document::header`] must run first: typed decoding keeps the last of two equal map
    /// keys without a word (derived structs only catch repeated known fields).
    #[test]
    fn typed_decoding_alone_lets_duplicate_map_keys_through() {
        let documents = split("spec:\n  labels:\n    team: a\n    team: b\n");
        let object: Object = documents[0].decode().expect("serde_yaml_ng accepts it");
        assert_eq!(object.spec.labels["team"], "b");
        assert_eq!(
            decode_error("spec:\n  weight: 1\n  weight: 2\n"),
            "document 1 (line 2): spec: duplicate field `weight`",
        );
    }

    #[test]
    fn valid_documents_decode() {
        let documents = split("---\nspec:\n  weight: 7\n");
        let object: Object = documents[0].decode().expect("valid");
        assert_eq!(object.spec.weight, Some(7));
    }
}
