//! A structural hash with the options upstream passes to `hashstructure` for drift hashes
//! (`SlicesAsSets`, `IgnoreZeroValue`, `ZeroNil`), behind the NodePool and EC2NodeClass hash
//! annotations.
//!
//! The value is a canonical encoding of a [`HashValue`] tree fed to 64-bit FNV-1a and printed in
//! decimal, the same shape as upstream's annotation. It is **not** bit-for-bit upstream's value
//! (that would mean re-implementing Go's reflection walk and its field-order XOR folding); the
//! hash-version annotations carry a joist-specific version so that a migration in either
//! direction re-stamps NodeClaims instead of drifting them (see `nodepool::hash`).
//!
//! Rules, matching the upstream options:
//! * a struct field whose value is zero (absent, `""`, `0`, `false`, an empty map, list or
//!   object) is left out, so absent and zero hash alike;
//! * struct fields are keyed by name, so the order they are added in does not matter;
//! * maps are hashed by their sorted entries;
//! * lists hashed as sets ignore order and duplicates (upstream XOR-folds elements, so duplicate
//!   pairs cancel out there; a set is what the option means).

use std::collections::BTreeMap;

/// One node of the value tree that is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HashValue {
    /// A string.
    Str(String),
    /// An integer (durations are hashed as nanoseconds).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string map, hashed by sorted entries.
    Map(BTreeMap<String, String>),
    /// A list hashed as a set: order and duplicates do not matter.
    Set(Vec<HashValue>),
    /// A struct: named fields, zero ones already left out.
    Struct(BTreeMap<&'static str, HashValue>),
}

impl HashValue {
    /// Whether the value is the zero value of its type (left out of structs).
    fn is_zero(&self) -> bool {
        match self {
            Self::Str(s) => s.is_empty(),
            Self::Int(i) => *i == 0,
            Self::Bool(b) => !b,
            Self::Map(m) => m.is_empty(),
            Self::Set(items) => items.is_empty(),
            Self::Struct(fields) => fields.is_empty(),
        }
    }

    /// Appends the canonical, prefix-free encoding of the value to `out`.
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Str(s) => {
                out.push(b's');
                encode_bytes(s.as_bytes(), out);
            }
            Self::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            }
            Self::Bool(b) => out.extend_from_slice(if *b { b"t" } else { b"f" }),
            Self::Map(map) => {
                out.push(b'm');
                encode_len(map.len(), out);
                for (key, value) in map {
                    encode_bytes(key.as_bytes(), out);
                    encode_bytes(value.as_bytes(), out);
                }
            }
            Self::Set(items) => {
                let mut encoded: Vec<Vec<u8>> = items
                    .iter()
                    .map(|item| {
                        let mut bytes = Vec::new();
                        item.encode(&mut bytes);
                        bytes
                    })
                    .collect();
                encoded.sort_unstable();
                encoded.dedup();
                out.push(b'l');
                encode_len(encoded.len(), out);
                for bytes in encoded {
                    out.extend_from_slice(&bytes);
                }
            }
            Self::Struct(fields) => {
                out.push(b'o');
                encode_len(fields.len(), out);
                for (name, value) in fields {
                    encode_bytes(name.as_bytes(), out);
                    value.encode(out);
                }
            }
        }
    }

    /// The hash of the value, in decimal (the annotation's format).
    pub(crate) fn digest(&self) -> String {
        let mut bytes = Vec::new();
        self.encode(&mut bytes);
        fnv1a64(&bytes).to_string()
    }
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    // usize → u64 never truncates on the 32/64-bit targets Rust supports.
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    encode_len(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// 64-bit FNV-1a: small, stable across platforms and releases (unlike std's `DefaultHasher`,
/// whose output may change between Rust versions).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// Builds a [`HashValue::Struct`], leaving out zero-valued fields.
#[derive(Debug, Default)]
pub(crate) struct StructBuilder {
    fields: BTreeMap<&'static str, HashValue>,
}

impl StructBuilder {
    /// An empty struct.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `name` unless `value` is absent or zero.
    pub(crate) fn field(mut self, name: &'static str, value: Option<HashValue>) -> Self {
        if let Some(value) = value.filter(|v| !v.is_zero()) {
            self.fields.insert(name, value);
        }
        self
    }

    /// Adds an optional string field.
    pub(crate) fn str(self, name: &'static str, value: Option<&str>) -> Self {
        self.field(name, value.map(|v| HashValue::Str(v.to_owned())))
    }

    /// Adds an optional integer field.
    pub(crate) fn int(self, name: &'static str, value: Option<i64>) -> Self {
        self.field(name, value.map(HashValue::Int))
    }

    /// Adds an optional boolean field.
    pub(crate) fn bool(self, name: &'static str, value: Option<bool>) -> Self {
        self.field(name, value.map(HashValue::Bool))
    }

    /// Adds an optional string map field.
    pub(crate) fn map(self, name: &'static str, value: Option<&BTreeMap<String, String>>) -> Self {
        self.field(name, value.map(|m| HashValue::Map(m.clone())))
    }

    /// Adds an optional list field hashed as a set, each element turned into a value by `item`.
    pub(crate) fn set<T>(
        self,
        name: &'static str,
        value: Option<&[T]>,
        item: impl Fn(&T) -> HashValue,
    ) -> Self {
        self.field(
            name,
            value.map(|items| HashValue::Set(items.iter().map(item).collect())),
        )
    }

    /// The struct value.
    pub(crate) fn build(self) -> HashValue {
        HashValue::Struct(self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(values: &[&str]) -> HashValue {
        HashValue::Set(values.iter().map(|v| HashValue::Str((*v).into())).collect())
    }

    #[test]
    fn hash_is_fnv1a_of_the_encoding_and_stable() {
        // FNV-1a 64 of the empty input is its offset basis: a fixed point of the algorithm.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let value = StructBuilder::new().str("name", Some("x")).build();
        assert_eq!(
            value.digest(),
            StructBuilder::new().str("name", Some("x")).build().digest()
        );
    }

    #[test]
    fn zero_fields_are_left_out() {
        let empty = StructBuilder::new().build().digest();
        let zeros = StructBuilder::new()
            .str("a", Some(""))
            .int("b", Some(0))
            .bool("c", Some(false))
            .map("d", Some(&BTreeMap::new()))
            .set::<String>("e", Some(&[]), |s| HashValue::Str(s.clone()))
            .str("f", None)
            .build()
            .digest();
        assert_eq!(empty, zeros);
        assert_ne!(
            empty,
            StructBuilder::new().bool("c", Some(true)).build().digest()
        );
    }

    #[test]
    fn sets_ignore_order_and_duplicates_but_not_content() {
        let digest = |v: HashValue| StructBuilder::new().field("s", Some(v)).build().digest();
        assert_eq!(digest(strs(&["a", "b"])), digest(strs(&["b", "a", "a"])));
        assert_ne!(digest(strs(&["a", "b"])), digest(strs(&["a", "c"])));
    }

    #[test]
    fn field_names_and_boundaries_matter() {
        let ab = StructBuilder::new().str("a", Some("bc")).build().digest();
        let ba = StructBuilder::new().str("b", Some("bc")).build().digest();
        assert_ne!(ab, ba);
        let split = |l: &str, r: &str| {
            HashValue::Map(BTreeMap::from([(l.to_owned(), r.to_owned())])).digest()
        };
        assert_ne!(split("ab", "c"), split("a", "bc"));
    }
}
