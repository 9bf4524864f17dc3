//! Reading multi-document YAML manifests the way `kubectl apply -f` does, with errors that say
//! where the problem is.
//!
//! A stream is [`split`] into numbered [`Document`]s, each remembering its first line in the
//! input. [`Document::header`] parses one document, rejects what the API server would reject
//! before looking at the object (YAML syntax, duplicate keys, non-objects) and reads its
//! `apiVersion`, `kind` and `metadata.name`; [`Document::decode`] then reads it as a typed object,
//! reporting wrong types with the field path and line. [`check_stream`] ties it together for
//! `joist validate`: every document is dispatched through the [`KINDS`] table to its kind's
//! defaulting and validation.

mod decode;
mod kinds;
mod probe;
mod split;

use std::fmt;

use crate::common::ValidationOptions;
use crate::validation::FieldError;

pub use kinds::{CheckFn, KINDS, KindEntry, check_as, check_strict_as, find_kind};
pub use split::{split, split_bytes};

/// One non-empty YAML document of a stream and where it sits in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based number among the stream's non-empty documents.
    number: usize,
    /// Input line of the document's first content (what a user would point at).
    start_line: usize,
    /// Input line where `text` begins (comments or a `---` may precede the content); line marks
    /// of the YAML parser count from here.
    first_line: usize,
    /// Input line where `text` ends; the parser marks end-of-input errors one line further.
    last_line: usize,
    /// The document's text, starting at a line boundary.
    text: &'a str,
}

impl<'a> Document<'a> {
    /// The 1-based number of this document among the stream's non-empty documents.
    pub fn number(&self) -> usize {
        self.number
    }

    /// The input line of the document's first content.
    pub fn start_line(&self) -> usize {
        self.start_line
    }

    /// The document's own text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Where the document starts, for errors about the object as a whole.
    pub fn position(&self) -> Position {
        Position {
            document: self.number,
            line: self.start_line,
        }
    }

    /// The position of a YAML error: the line the parser marked, else the document's start.
    fn position_of(&self, error: &serde_yaml_ng::Error) -> Position {
        let line = error
            .location()
            .map_or(self.start_line, |location| self.input_line(location.line()));
        Position {
            document: self.number,
            line,
        }
    }

    /// The input line of the document's line `relative` (1-based, as the parser counts); the
    /// parser's end-of-input position after a final line break counts as the last line.
    fn input_line(&self, relative: usize) -> usize {
        (self.first_line + relative.saturating_sub(1)).min(self.last_line)
    }
}

/// A place in the input that an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based number of the document among the stream's non-empty documents.
    pub document: usize,
    /// 1-based input line.
    pub line: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {} (line {})", self.document, self.line)
    }
}

/// `"<path>: "` before a message, or nothing at the object root.
#[derive(Debug)]
struct PathPrefix<'a>(&'a str);

impl fmt::Display for PathPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

/// Why a document could not be read as an object to validate. Every variant names the document
/// and the line, so a user can find the problem in a long manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The input is not UTF-8 text (binary data, or a file in another encoding).
    #[error("{at}: input is not UTF-8 text (byte 0x{byte:02X})")]
    NotUtf8 {
        /// Where the first invalid byte is.
        at: Position,
        /// That byte.
        byte: u8,
    },
    /// The text is not valid YAML; `message` is the parser's, with input line numbers.
    #[error("{at}: invalid YAML: {message}")]
    Syntax {
        /// Where the parser gave up.
        at: Position,
        /// The parser's explanation.
        message: String,
    },
    /// A mapping repeats a key; the API server rejects this even though YAML parsers may not.
    #[error("{at}: {}duplicate key {key:?}", PathPrefix(.path))]
    DuplicateKey {
        /// The line of the repeated key.
        at: Position,
        /// Path of the mapping that repeats it (empty at the root).
        path: String,
        /// The repeated key.
        key: String,
    },
    /// YAML that has no JSON meaning for the API server (custom tags, merge keys, non-scalar keys).
    #[error("{at}: {}{what}", PathPrefix(.path))]
    UnsupportedYaml {
        /// Where it is.
        at: Position,
        /// Path of the node (empty at the root).
        path: String,
        /// What is not supported.
        what: String,
    },
    /// The document is a scalar or a sequence rather than an object.
    #[error(
        "{at}: expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found {found}"
    )]
    NotAnObject {
        /// Where the document starts.
        at: Position,
        /// What was found instead.
        found: String,
    },
    /// `apiVersion`, `kind` or `metadata.name` is not a string.
    #[error("{at}: {field}: expected a string, found {found}")]
    NotAString {
        /// Where the value is.
        at: Position,
        /// Which identity field.
        field: &'static str,
        /// What was found instead.
        found: String,
    },
    /// `apiVersion`, `kind` or `metadata.name` is missing or empty.
    #[error("{at}: missing {field}")]
    MissingField {
        /// Where the document starts.
        at: Position,
        /// Which identity field.
        field: &'static str,
    },
    /// A kind joist does not validate.
    #[error(
        "{at}: unknown kind {kind:?} in apiVersion {api_version:?}; joist validates {supported}"
    )]
    UnknownKind {
        /// Where the document starts.
        at: Position,
        /// The document's apiVersion.
        api_version: String,
        /// The document's kind.
        kind: String,
        /// The kinds joist validates, e.g. `karpenter.sh/v1 NodePool, NodeClaim and ...`.
        supported: String,
    },
    /// A Karpenter kind of an API version older than v1.
    #[error(
        "{at}: {api_version} {kind} is an older Karpenter API; joist requires {current_api_version} \
         {current_kind} (see Karpenter's v1 migration guide)"
    )]
    OldVersion {
        /// Where the document starts.
        at: Position,
        /// The document's apiVersion.
        api_version: String,
        /// The document's kind.
        kind: String,
        /// The v1 apiVersion that replaces it.
        current_api_version: &'static str,
        /// The v1 kind that replaces it.
        current_kind: &'static str,
    },
    /// The object does not fit its kind's schema: a wrong type, an unknown enum value, a missing
    /// required field.
    #[error("{at}: {}{message}", PathPrefix(.path))]
    Decode {
        /// The line of the offending value.
        at: Position,
        /// Path of the offending field (empty at the root).
        path: String,
        /// What is wrong, e.g. `invalid type: string "heavy", expected i32`.
        message: String,
    },
}

impl DocumentError {
    /// Where the error is.
    pub fn position(&self) -> Position {
        match self {
            Self::NotUtf8 { at, .. }
            | Self::Syntax { at, .. }
            | Self::DuplicateKey { at, .. }
            | Self::UnsupportedYaml { at, .. }
            | Self::NotAnObject { at, .. }
            | Self::NotAString { at, .. }
            | Self::MissingField { at, .. }
            | Self::UnknownKind { at, .. }
            | Self::OldVersion { at, .. }
            | Self::Decode { at, .. } => *at,
        }
    }
}

/// What a document says it is; fields are `None` when absent or `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectHeader {
    /// `apiVersion`.
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: Option<String>,
    /// `metadata.name`.
    pub name: Option<String>,
}

/// `value` if the object has it and it is not empty; otherwise the error that names `field` at
/// `at`. Every reader of objects (validate, the simulator's loader) requires identity fields
/// this way, so the rule and its message live here.
pub fn required_field(
    value: Option<String>,
    field: &'static str,
    at: Position,
) -> Result<String, DocumentError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(DocumentError::MissingField { at, field })
}

/// The validation outcome of one object that could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedObject {
    /// Where the object starts.
    pub at: Position,
    /// Its kind, as written.
    pub kind: String,
    /// Its `metadata.name`.
    pub name: String,
    /// Everything wrong with it after defaulting; empty when it is valid.
    pub errors: Vec<FieldError>,
}

impl CheckedObject {
    /// Whether the API server would accept the object.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Reads every document of `input` and validates each object with the kinds joist knows, under
/// core Karpenter's label policy.
///
/// Documents are independent: a broken one is reported and the others are still checked. Input
/// that is not UTF-8 yields a single error.
pub fn check_stream(input: &[u8]) -> Vec<Result<CheckedObject, DocumentError>> {
    check_stream_with(input, KINDS, &ValidationOptions::default())
}

/// [`check_stream`] with an explicit table of kinds and validation options (a provider's label
/// policy, well-known labels and aliases).
pub fn check_stream_with(
    input: &[u8],
    kinds: &[KindEntry],
    options: &ValidationOptions,
) -> Vec<Result<CheckedObject, DocumentError>> {
    match split_bytes(input) {
        Ok(documents) => documents
            .iter()
            .map(|document| check_document(document, kinds, options))
            .collect(),
        Err(error) => vec![Err(error)],
    }
}

/// Reads one document, finds its kind and validates it.
pub fn check_document(
    document: &Document<'_>,
    kinds: &[KindEntry],
    options: &ValidationOptions,
) -> Result<CheckedObject, DocumentError> {
    let header = document.header()?;
    let at = document.position();
    let api_version = required_field(header.api_version, "apiVersion", at)?;
    let kind = required_field(header.kind, "kind", at)?;
    let entry = find_kind(kinds, &api_version, &kind, at)?;
    let name = required_field(header.name, "metadata.name", at)?;
    let errors = (entry.check)(document, options)?;
    Ok(CheckedObject {
        at,
        kind,
        name,
        errors,
    })
}

/// The parser's message for a syntax error, with line numbers counted in the whole input and
/// without repeating the line the error's position already gives.
fn syntax_message(document: &Document<'_>, error: &serde_yaml_ng::Error) -> String {
    let mut message = error.to_string();
    if let Some(location) = error.location() {
        let own = format!(" at line {} column {}", location.line(), location.column());
        if let Some(at) = message.find(&own) {
            message.replace_range(at..at + own.len(), "");
        }
    }
    shift_line_numbers(&message, document.first_line - 1)
}

/// Adds `offset` to every `line N` in `message`.
fn shift_line_numbers(message: &str, offset: usize) -> String {
    const WORD: &str = "line ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(WORD) {
        let (before, after) = rest.split_at(at + WORD.len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(line) => out.push_str(&(line + offset).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
