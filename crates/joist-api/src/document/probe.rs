//! First pass over a document: the YAML must parse, no mapping may repeat a key, and the object
//! must say what it is (`apiVersion`, `kind`, `metadata.name`).
//!
//! YAML lets parsers keep either of two equal keys, serde's derived structs only notice repeats of
//! fields they know, and maps (labels, tags, limits) silently keep the last one, while the API
//! server rejects every duplicate. So this pass walks the whole document once with its own
//! visitor. A visitor never sees positions, but serde_yaml_ng stamps the position of the node
//! being read on any error raised while reading it; raising the duplicate-key error from the key
//! itself therefore yields the duplicate's exact line. The structured problem travels beside the
//! error in a `RefCell` so that no message has to be parsed back.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, Visitor};

use super::{Document, DocumentError, ObjectHeader, syntax_message};

// === path of the node being read ===

/// Where a node sits, as a borrowed chain so that walking allocates nothing until an error.
#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

// === problems found while walking ===

/// A problem the walker found, kept structured beside the serde error that carries its position.
#[derive(Debug)]
enum Problem {
    DuplicateKey { path: String, key: String },
    Unsupported { path: String, what: String },
    NotAnObject { found: String },
    NotAString { field: &'static str, found: String },
}

/// What every seed of one walk shares: the first problem found.
#[derive(Debug, Default)]
struct Walk {
    problem: RefCell<Option<Problem>>,
}

impl Walk {
    /// Records `problem` and returns the error that makes serde_yaml_ng stamp its position.
    fn fail<E: de::Error>(&self, problem: Problem) -> E {
        self.problem.borrow_mut().get_or_insert(problem);
        E::custom("joist: see recorded problem")
    }
}

/// How a value is named in messages (`sequence`, `string "x"`, `integer `5``).
fn describe(unexpected: de::Unexpected<'_>) -> String {
    match unexpected {
        de::Unexpected::Unit => "null".to_owned(),
        other => other.to_string(),
    }
}

/// Implements the visitor methods of numbers and booleans by handing a description of the value
/// to `$handle`, a method of the visitor returning `Result<Self::Value, E>`.
macro_rules! visit_numbers_and_bools {
    ($handle:ident) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.$handle(de::Unexpected::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.$handle(de::Unexpected::Signed(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.$handle(de::Unexpected::Unsigned(v))
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
            self.$handle(de::Unexpected::Other("integer"))
        }
        fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
            self.$handle(de::Unexpected::Other("integer"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.$handle(de::Unexpected::Float(v))
        }
    };
}

// === any node ===

/// Walks one node of any shape, checking keys at every depth.
#[derive(Debug, Clone, Copy)]
struct Node<'w> {
    walk: &'w Walk,
    path: Path<'w>,
}

impl Node<'_> {
    fn accept_scalar<E>(self, _: de::Unexpected<'_>) -> Result<(), E> {
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    visit_numbers_and_bools!(accept_scalar);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Node {
                walk: self.walk,
                path: Path::Index(&self.path, index),
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key_seed(Key {
            walk: self.walk,
            path: self.path,
            seen: &mut seen,
        })? {
            map.next_value_seed(Node {
                walk: self.walk,
                path: Path::Key(&self.path, &key),
            })?;
        }
        Ok(())
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // serde_yaml_ng presents a node with a non-standard tag (`!Ref x`) as an enum; the API
        // server's YAML-to-JSON conversion has no meaning for such tags.
        let (tag, _variant): (String, _) = data.variant()?;
        Err(self.walk.fail(Problem::Unsupported {
            path: self.path.to_string(),
            what: format!("YAML tag \"!{tag}\" is not supported"),
        }))
    }
}

// === mapping keys ===

/// Reads one mapping key as text and rejects it if the mapping already had it.
///
/// The checks run inside the key's own visitor so that serde_yaml_ng stamps the key's position
/// on the error, not the mapping's.
#[derive(Debug)]
struct Key<'w, 's> {
    walk: &'w Walk,
    /// The mapping's own path.
    path: Path<'w>,
    seen: &'s mut BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Key<'_, '_> {
    /// Renders scalar keys the way JSON conversion would: `1` and `"1"` are the same key there.
    fn accept<E: de::Error>(self, key: String) -> Result<String, E> {
        if key == "<<" {
            return Err(self.walk.fail(Problem::Unsupported {
                path: self.path.to_string(),
                what: "YAML merge keys (<<) are not supported; write the fields out".to_owned(),
            }));
        }
        if !self.seen.insert(key.clone()) {
            return Err(self.walk.fail(Problem::DuplicateKey {
                path: self.path.to_string(),
                key,
            }));
        }
        Ok(key)
    }

    fn not_scalar<E: de::Error>(&self, found: &str) -> E {
        self.walk.fail(Problem::Unsupported {
            path: self.path.to_string(),
            what: format!("mapping keys must be strings, found {found}"),
        })
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.accept(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.accept(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        self.accept(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.accept(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        self.accept(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.accept(v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.accept(v.to_owned())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.accept("null".to_owned())
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        self.accept("null".to_owned())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.not_scalar("a sequence"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.not_scalar("a mapping"))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.not_scalar("a tagged value"))
    }
}

// === the object's identity ===

/// The fields of an object's identity collected while walking it.
#[derive(Debug, Default)]
struct Identity {
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
}

/// Reads the document root: it must be a mapping; `apiVersion`, `kind` and `metadata.name` are
/// captured, everything else is walked.
#[derive(Debug)]
struct Root<'w> {
    walk: &'w Walk,
}

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = Identity;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Identity, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = Identity;

    visit_numbers_and_bools!(not_an_object);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identity, A::Error> {
        let walk = self.walk;
        let mut identity = Identity::default();
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key_seed(Key {
            walk,
            path: Path::Root,
            seen: &mut seen,
        })? {
            match key.as_str() {
                "apiVersion" => {
                    identity.api_version = map.next_value_seed(Text {
                        walk,
                        field: "apiVersion",
                    })?
                }
                "kind" => {
                    identity.kind = map.next_value_seed(Text {
                        walk,
                        field: "kind",
                    })?
                }
                "metadata" => identity.name = map.next_value_seed(Metadata { walk })?,
                _ => map.next_value_seed(Node {
                    walk,
                    path: Path::Key(&Path::Root, &key),
                })?,
            }
        }
        Ok(identity)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Identity, A::Error> {
        Node {
            walk: self.walk,
            path: Path::Root,
        }
        .visit_enum(data)
        .map(|()| Identity::default())
    }

    // Every other shape is not an object.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Identity, E> {
        self.not_an_object(de::Unexpected::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Identity, E> {
        self.not_an_object(de::Unexpected::Unit)
    }
    fn visit_none<E: de::Error>(self) -> Result<Identity, E> {
        self.not_an_object(de::Unexpected::Unit)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Identity, A::Error> {
        self.not_an_object(de::Unexpected::Seq)
    }
}

impl Root<'_> {
    fn not_an_object<E: de::Error>(&self, found: de::Unexpected<'_>) -> Result<Identity, E> {
        Err(self.walk.fail(Problem::NotAnObject {
            found: describe(found),
        }))
    }
}

/// Reads `metadata`, capturing `name` and walking the rest.
#[derive(Debug)]
struct Metadata<'w> {
    walk: &'w Walk,
}

impl Metadata<'_> {
    /// Any other shape has no name; the typed pass reports the wrong type of `metadata` itself.
    fn no_name<E>(self, _: de::Unexpected<'_>) -> Result<Option<String>, E> {
        Ok(None)
    }
}

impl<'de> DeserializeSeed<'de> for Metadata<'_> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Metadata<'_> {
    type Value = Option<String>;

    visit_numbers_and_bools!(no_name);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object metadata")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let walk = self.walk;
        let metadata = Path::Key(&Path::Root, "metadata");
        let mut name = None;
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key_seed(Key {
            walk,
            path: metadata,
            seen: &mut seen,
        })? {
            if key == "name" {
                name = map.next_value_seed(Text {
                    walk,
                    field: "metadata.name",
                })?;
            } else {
                map.next_value_seed(Node {
                    walk,
                    path: Path::Key(&metadata, &key),
                })?;
            }
        }
        Ok(name)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Node {
            walk: self.walk,
            path: Path::Key(&Path::Root, "metadata"),
        }
        .visit_seq(seq)
        .map(|()| None)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        Node {
            walk: self.walk,
            path: Path::Key(&Path::Root, "metadata"),
        }
        .visit_enum(data)
        .map(|()| None)
    }
}

/// Reads an identity field that must be a string; `null` counts as absent.
#[derive(Debug)]
struct Text<'w> {
    walk: &'w Walk,
    field: &'static str,
}

impl<'de> DeserializeSeed<'de> for Text<'_> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Text<'_> {
    fn wrong<E: de::Error>(&self, found: de::Unexpected<'_>) -> Result<Option<String>, E> {
        Err(self.walk.fail(Problem::NotAString {
            field: self.field,
            found: describe(found),
        }))
    }
}

impl<'de> Visitor<'de> for Text<'_> {
    type Value = Option<String>;

    visit_numbers_and_bools!(wrong);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong(de::Unexpected::Seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong(de::Unexpected::Map)
    }
    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.wrong(de::Unexpected::Enum)
    }
}

// === entry point ===

impl Document<'_> {
    /// Parses the document, rejects duplicate keys and unsupported YAML at any depth, and
    /// returns what the object says it is.
    pub fn header(&self) -> Result<ObjectHeader, DocumentError> {
        let walk = Walk::default();
        let deserializer = serde_yaml_ng::Deserializer::from_str(self.text);
        let root = Root { walk: &walk };
        match root.deserialize(deserializer) {
            Ok(identity) => Ok(ObjectHeader {
                api_version: identity.api_version,
                kind: identity.kind,
                name: identity.name,
            }),
            Err(error) => {
                let at = self.position_of(&error);
                Err(match walk.problem.into_inner() {
                    Some(Problem::DuplicateKey { path, key }) => {
                        DocumentError::DuplicateKey { at, path, key }
                    }
                    Some(Problem::Unsupported { path, what }) => {
                        DocumentError::UnsupportedYaml { at, path, what }
                    }
                    Some(Problem::NotAnObject { found }) => {
                        DocumentError::NotAnObject { at, found }
                    }
                    Some(Problem::NotAString { field, found }) => {
                        DocumentError::NotAString { at, field, found }
                    }
                    None => DocumentError::Syntax {
                        at,
                        message: syntax_message(self, &error),
                    },
                })
            }
        }
    }
}
