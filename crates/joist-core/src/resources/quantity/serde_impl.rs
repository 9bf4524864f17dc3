//! Serde for [`Quantity`], shaped like Kubernetes JSON: written as the canonical string, read from
//! a string (surrounding whitespace tolerated, as upstream's `UnmarshalJSON` trims it), an
//! integer, a float, or null (zero).
//!
//! A float loses the spelling of its JSON text, so `1e3` written as a bare number reads as `1000`
//! in decimal SI rather than as the exponent notation Kubernetes would keep; the value is the same.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::{Quantity, QuantityFormat};

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

struct QuantityVisitor;

impl QuantityVisitor {
    fn parse<E: de::Error>(text: &str) -> Result<Quantity, E> {
        Quantity::parse(text.trim())
            .map_err(|error| E::custom(format_args!("quantity {text:?}: {error}")))
    }
}

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a Kubernetes quantity such as \"500m\", \"1Gi\" or 2")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Quantity, E> {
        Self::parse(text)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Quantity, E> {
        Ok(Quantity::from_int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Quantity, E> {
        Ok(Quantity::from_nanos(
            i128::from(value) * 1_000_000_000,
            QuantityFormat::DecimalSi,
        ))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Quantity, E> {
        // Rust prints finite floats without exponent notation, which the parser reads exactly;
        // NaN and infinities print as words and are rejected by the parser.
        Self::parse(&value.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::ZERO)
    }

    fn visit_none<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::ZERO)
    }
}
