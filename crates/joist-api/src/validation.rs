//! Field-level validation errors shared by every kind.
//!
//! joist reports bad objects the way the API server does: one line per problem, naming the field
//! path (`spec.template.spec.requirements[0].operator`) and upstream's message, so that what
//! `joist validate` prints matches what `kubectl apply` would have said.

use std::fmt;

/// One problem with one field of one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldError {
    /// Dotted path from the object root, with `[i]` for list items and `[key]` for map entries.
    pub path: String,
    /// Upstream's message (CEL rule message or OpenAPI schema message) where one exists.
    pub message: String,
}

impl FieldError {
    /// An error at `path` with `message`.
    pub fn new(path: &FieldPath, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A field path under construction; cheap to clone while walking an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The object root.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// The path of field `name` below this one.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_owned())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    /// The path of list item `i` below this one.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// The path of map entry `key` below this one.
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_the_api_server() {
        let p = FieldPath::root()
            .child("spec")
            .child("requirements")
            .index(2)
            .child("key");
        assert_eq!(p.to_string(), "spec.requirements[2].key");
        let m = FieldPath::root()
            .child("metadata")
            .child("labels")
            .key("karpenter.sh/x");
        assert_eq!(
            FieldError::new(&m, "bad").to_string(),
            "metadata.labels[karpenter.sh/x]: bad"
        );
    }
}
