use proptest::prelude::*;

use super::*;

fn q(text: &str) -> Quantity {
    match Quantity::parse(text) {
        Ok(quantity) => quantity,
        Err(error) => panic!("{text:?} should parse: {error}"),
    }
}

/// Input → canonical text. Cases from apimachinery's `TestQuantityParse`, `TestQuantityString`,
/// `TestQuantityParseEmit` and the serialization golden table, written as their printed form.
const CANONICAL_FORMS: &[(&str, &str)] = &[
    // The examples Kubernetes documents.
    ("1.5Gi", "1536Mi"),
    ("1000m", "1"),
    ("0.1", "100m"),
    ("1024Ki", "1Mi"),
    ("1e3", "1e3"),
    ("12e6", "12e6"),
    ("100M", "100M"),
    ("0.5", "500m"),
    ("1.5", "1500m"),
    ("-1", "-1"),
    ("+1", "1"),
    ("01", "1"),
    // Binary suffixes.
    ("1Ki", "1Ki"),
    ("8Ki", "8Ki"),
    ("7Mi", "7Mi"),
    ("1024Mi", "1Gi"),
    ("6Gi", "6Gi"),
    ("5Ti", "5Ti"),
    ("4Pi", "4Pi"),
    ("3Ei", "3Ei"),
    ("1025Ki", "1025Ki"),
    ("0.5Mi", "512Ki"),
    ("-9.5Gi", "-9728Mi"),
    // Binary values below 1024 or with a fraction print in decimal SI.
    ("1023Ki", "1023Ki"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("100.035Ki", "102435840m"),
    ("-9.5000000001Gi", "-10200547328107374183n"),
    // Decimal suffixes.
    ("5n", "5n"),
    ("4u", "4u"),
    ("3m", "3m"),
    ("9", "9"),
    ("8k", "8k"),
    ("50k", "50k"),
    ("1000M", "1G"),
    ("300T", "300T"),
    ("2P", "2P"),
    ("1E", "1E"),
    ("12E", "12E"),
    ("100E", "100E"),
    ("1000E", "1e21"),
    ("100.035k", "100035"),
    ("10.035M", "10035k"),
    ("7.123456M", "7123456"),
    ("6.987654321G", "6987654321"),
    ("5.444T", "5444G"),
    ("1.01E", "1010P"),
    ("1.441", "1441m"),
    ("1.000001", "1000001u"),
    ("1.000000001", "1000000001n"),
    ("9223372036854775807", "9223372036854775807"),
    ("18446744073709551616", "18446744073709551616"),
    // Exponents keep exponent notation, with exponents that are multiples of three.
    ("1E-3", "1e-3"),
    ("1E6", "1e6"),
    ("1e13", "10e12"),
    ("1.2e3", "1200"),
    ("1.3E+6", "1300e3"),
    ("0.5e0", "500e-3"),
    ("0.5e-2", "5e-3"),
    ("0.08e0", "80e-3"),
    ("3e8", "300e6"),
    ("1e0", "1"),
    // Rounding up to the nearest nano, away from zero.
    ("3.001n", "4n"),
    ("-3.001n", "-4n"),
    ("1.1E-9", "2e-9"),
    ("0.0000000001", "1n"),
    ("0.00000000050", "1n"),
    ("0.9n", "1n"),
    ("0.00000012345", "124n"),
    ("0.000000000000001", "1n"),
    // Binary quantities are capped at 2^63-1.
    ("8Ei", "9223372036854775807"),
    ("9223372036854775807Ki", "9223372036854775807"),
    ("-20Ei", "-9223372036854775807"),
    // Zero in every spelling, and the scanner's permissive corners.
    ("0", "0"),
    ("0Ki", "0"),
    ("-0", "0"),
    ("0.000", "0"),
    (".", "0"),
    ("-", "0"),
    ("1.", "1"),
    ("1.G", "1G"),
    (".0001k", "100m"),
    ("Ti", "0"),
    (".e-9", "0"),
    (".0e-10", "0"),
    ("0Ei", "0"),
    ("5.Ki", "5Ki"),
];

#[test]
fn parses_and_prints_canonical_form() {
    for &(input, expected) in CANONICAL_FORMS {
        assert_eq!(q(input).to_string(), expected, "input {input:?}");
    }
}

#[test]
fn remembers_the_input_format() {
    let table = [
        ("1", QuantityFormat::DecimalSi),
        ("0", QuantityFormat::DecimalSi),
        ("5n", QuantityFormat::DecimalSi),
        ("1Ki", QuantityFormat::BinarySi),
        ("0Ki", QuantityFormat::BinarySi),
        ("1023", QuantityFormat::DecimalSi),
        ("1e3", QuantityFormat::DecimalExponent),
        ("1E-3", QuantityFormat::DecimalExponent),
        // Binary values strictly between 0 and 1 switch to decimal SI at parse time.
        ("0.000000000001Ki", QuantityFormat::DecimalSi),
        ("0.5Ki", QuantityFormat::BinarySi),
    ];
    for (input, format) in table {
        assert_eq!(q(input).format(), format, "input {input:?}");
    }
}

#[test]
fn parses_exact_values() {
    let table: [(&str, i128); 12] = [
        ("5n", 5),
        ("4u", 4_000),
        ("3m", 3_000_000),
        ("1", 1_000_000_000),
        ("1Ki", 1024 * 1_000_000_000),
        ("3Ei", 3 * (1 << 60) * 1_000_000_000),
        ("12E", 12 * 10_i128.pow(27)),
        ("0.00000012354", 124),
        ("-0.00000012354", -124),
        ("0.0005k", 500_000_000),
        ("9Ei", i64::MAX as i128 * 1_000_000_000),
        ("1e-10", 1),
    ];
    for (input, nanos) in table {
        assert_eq!(q(input).nanos(), nanos, "input {input:?}");
    }
}

#[test]
fn rejects_malformed_text_with_upstream_messages() {
    let table = [
        ("", QuantityError::FormatWrong),
        ("1.1.M", QuantityError::FormatWrong),
        ("1+1.0M", QuantityError::FormatWrong),
        ("0.1am", QuantityError::FormatWrong),
        ("aoeu", QuantityError::FormatWrong),
        (" 1", QuantityError::FormatWrong),
        ("1 ", QuantityError::FormatWrong),
        ("1e3e", QuantityError::FormatWrong),
        ("0.1mi", QuantityError::Suffix),
        (".5i", QuantityError::Suffix),
        ("1i", QuantityError::Suffix),
        ("-3.01i", QuantityError::Suffix),
        ("-3.01e-", QuantityError::Suffix),
        ("1K", QuantityError::Suffix),
        ("1e", QuantityError::Suffix),
        ("1Ki5", QuantityError::Suffix),
        ("1e99999999999999999999", QuantityError::Suffix),
        ("1e100", QuantityError::OutOfRange),
        ("Pi", QuantityError::Numeric),
        ("-.Ei", QuantityError::Numeric),
        (".e-10", QuantityError::Numeric),
    ];
    for (input, error) in table {
        assert_eq!(
            Quantity::parse(input),
            Err(error.clone()),
            "input {input:?}"
        );
    }
    assert_eq!(
        QuantityError::FormatWrong.to_string(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    assert_eq!(
        QuantityError::Suffix.to_string(),
        "unable to parse quantity's suffix"
    );
}

#[test]
fn from_str_matches_parse() {
    let parsed: Quantity = "250m".parse().unwrap();
    assert_eq!(parsed, Quantity::from_milli(250));
    assert_eq!("x".parse::<Quantity>(), Err(QuantityError::FormatWrong));
}

#[test]
fn constructors_print_like_upstream_constructors() {
    assert_eq!(Quantity::from_milli(1).to_string(), "1m");
    assert_eq!(Quantity::from_milli(1000).to_string(), "1");
    assert_eq!(Quantity::from_milli(1_234_000).to_string(), "1234");
    assert_eq!(Quantity::from_milli(1441).to_string(), "1441m");
    assert_eq!(Quantity::from_int(1000).to_string(), "1k");
    assert_eq!(Quantity::from_int(1_234_000).to_string(), "1234k");
    assert_eq!(
        Quantity::from_int(i64::MIN).to_string(),
        "-9223372036854775808"
    );
    assert_eq!(Quantity::from_bytes_binary(1024).to_string(), "1Ki");
    assert_eq!(Quantity::from_bytes_binary(1024 * 1024).to_string(), "1Mi");
    assert_eq!(Quantity::from_bytes_binary(5).to_string(), "5");
    assert_eq!(Quantity::from_bytes_binary(1536).to_string(), "1536");
    assert_eq!(Quantity::from_mebibytes(1024).to_string(), "1Gi");
    assert_eq!(Quantity::from_mebibytes(1536).to_string(), "1536Mi");
    assert_eq!(
        Quantity::from_nanos(500_000_000, QuantityFormat::BinarySi).to_string(),
        "500m"
    );
    assert_eq!(
        Quantity::from_nanos(10_i128.pow(30), QuantityFormat::DecimalSi).to_string(),
        "1e21"
    );
    assert_eq!(
        Quantity::from_int(1_000_000)
            .with_format(QuantityFormat::DecimalExponent)
            .to_string(),
        "1e6"
    );
}

#[test]
fn equality_and_order_compare_values_only() {
    assert_eq!(q("1Gi"), q("1024Mi"));
    assert_eq!(q("1"), q("1000m"));
    assert_eq!(q("1e3"), q("1k"));
    assert!(q("100m") > q("50m"));
    assert!(q("10000T") > q("100Gi"));
    assert!(q("-1") < Quantity::ZERO);
    assert_eq!(q("1.5").max_value(q("2")), q("2"));
}

#[test]
fn accessors_round_away_from_zero() {
    assert_eq!(q("100m").value(), 1);
    assert_eq!(q("-100m").value(), -1);
    assert_eq!(q("2").value(), 2);
    assert_eq!(q("1.5").milli_value(), 1500);
    assert_eq!(q("1n").milli_value(), 1);
    assert_eq!(q("-1n").milli_value(), -1);
    assert_eq!(q("1Ki").value(), 1024);
    assert!((q("1500m").as_f64() - 1.5).abs() < 1e-12);
    assert!(q("0Mi").is_zero());
    assert!(!q("1n").is_zero());
    assert!(q("-1n").is_negative());
}

#[test]
fn arithmetic_keeps_kubernetes_formats() {
    // Adding or subtracting zero keeps the suffix family, in either order.
    assert_eq!((q("100m") + Quantity::ZERO).to_string(), "100m");
    assert_eq!((Quantity::ZERO + q("1Gi")).to_string(), "1Gi");
    assert_eq!((q("1Gi") - Quantity::ZERO).to_string(), "1Gi");
    assert_eq!((Quantity::ZERO - q("1Gi")).to_string(), "-1Gi");
    assert_eq!((q("1") + q("500m")).to_string(), "1500m");
    assert_eq!((q("1Gi") + q("512Mi")).to_string(), "1536Mi");
    assert_eq!((q("2") - q("3")).to_string(), "-1");
    assert_eq!((-q("9.01")).to_string(), "-9010m");
    assert_eq!(q("1Gi").mul_int(3).to_string(), "3Gi");
    assert_eq!(q("250m").checked_mul_int(4), Some(q("1")));
    let mut total = Quantity::ZERO;
    total += q("1");
    total -= q("250m");
    assert_eq!(total.to_string(), "750m");
    assert_eq!([q("1"), q("2"), q("3")].iter().sum::<Quantity>(), q("6"));
}

#[test]
fn arithmetic_reports_or_saturates_on_overflow() {
    let max = Quantity::from_nanos(i128::MAX, QuantityFormat::DecimalSi);
    assert_eq!(max.checked_add(q("1n")), None);
    assert_eq!(
        Quantity::from_nanos(i128::MIN, QuantityFormat::DecimalSi).checked_sub(q("1n")),
        None
    );
    assert_eq!(max.checked_mul_int(2), None);
    assert_eq!((max + q("1")).nanos(), i128::MAX);
    assert_eq!(max.mul_int(2).nanos(), i128::MAX);
    assert_eq!(q("1").checked_add(q("1")), Some(q("2")));
    assert_eq!(q("1").checked_sub(q("2")), Some(q("-1")));
}

#[test]
fn serializes_as_the_canonical_string() {
    assert_eq!(serde_json::to_string(&q("1.5Gi")).unwrap(), "\"1536Mi\"");
    assert_eq!(serde_json::to_string(&q("0.1")).unwrap(), "\"100m\"");
    assert_eq!(serde_json::to_string(&Quantity::ZERO).unwrap(), "\"0\"");
}

#[test]
fn deserializes_strings_numbers_and_null_like_kubernetes_json() {
    let read =
        |json: &str| serde_json::from_str::<Quantity>(json).map(|quantity| quantity.to_string());
    assert_eq!(read("\"1Gi\"").unwrap(), "1Gi");
    assert_eq!(read("\" 1\"").unwrap(), "1");
    assert_eq!(read("\"1 \"").unwrap(), "1");
    assert_eq!(read("1").unwrap(), "1");
    assert_eq!(read("10").unwrap(), "10");
    assert_eq!(read("-1").unwrap(), "-1");
    assert_eq!(
        read("18446744073709551615").unwrap(),
        "18446744073709551615"
    );
    assert_eq!(read("1.5").unwrap(), "1500m");
    assert_eq!(read("0.1").unwrap(), "100m");
    assert_eq!(read("null").unwrap(), "0");
    let error = read("\"1x\"").unwrap_err().to_string();
    assert!(
        error.contains("quantities must match the regular expression"),
        "{error}"
    );
    assert!(read("true").is_err());
}

fn any_format() -> impl Strategy<Value = QuantityFormat> {
    prop_oneof![
        Just(QuantityFormat::DecimalSi),
        Just(QuantityFormat::BinarySi),
        Just(QuantityFormat::DecimalExponent),
    ]
}

/// Nano counts that Kubernetes itself can hold in every format (binary parses cap at 2^63-1 units),
/// biased towards round numbers so that every suffix gets exercised.
fn any_nanos() -> impl Strategy<Value = i128> {
    let bound = i64::MAX as i128 * 1_000_000_000;
    prop_oneof![
        (-bound..=bound),
        (any::<i32>(), 0u32..28)
            .prop_map(|(mantissa, zeros)| i128::from(mantissa) * 10_i128.pow(zeros)),
        (any::<i16>(), 0u32..5).prop_map(|(mantissa, power)| i128::from(mantissa)
            * 1024_i128.pow(power)
            * 1_000_000_000),
    ]
    .prop_map(move |nanos| nanos.clamp(-bound, bound))
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_back_the_value(nanos in any_nanos(), format in any_format()) {
        let quantity = Quantity::from_nanos(nanos, format);
        let printed = quantity.to_string();
        let reparsed = Quantity::parse(&printed).unwrap();
        prop_assert_eq!(reparsed, quantity, "printed {}", printed);
        // Reparsing is stable: a binary value printed without a binary suffix (`10000`) comes back
        // as decimal SI (`10k`), exactly as upstream, and from then on the text is a fixed point.
        let canonical = reparsed.to_string();
        if quantity.format() != QuantityFormat::BinarySi {
            prop_assert_eq!(&canonical, &printed);
        }
        prop_assert_eq!(Quantity::parse(&canonical).unwrap().to_string(), canonical);
    }

    #[test]
    fn suffixed_integers_parse_to_their_exact_value(mantissa in any::<i32>(), suffix in 0usize..16) {
        let (text, factor): (&str, i128) = [
            ("n", 1), ("u", 1_000), ("m", 1_000_000), ("", 1_000_000_000),
            ("k", 10_i128.pow(12)), ("M", 10_i128.pow(15)), ("G", 10_i128.pow(18)), ("T", 10_i128.pow(21)),
            ("P", 10_i128.pow(24)), ("Ki", 1_000_000_000 << 10), ("Mi", 1_000_000_000 << 20),
            ("Gi", 1_000_000_000 << 30), ("Ti", 1_000_000_000 << 40), ("e3", 10_i128.pow(12)),
            ("e-3", 1_000_000), ("E+6", 10_i128.pow(15)),
        ][suffix];
        let parsed = Quantity::parse(&format!("{mantissa}{text}")).unwrap();
        let mut expected = i128::from(mantissa) * factor;
        if text.ends_with('i') {
            // Binary quantities are capped at 2^63-1 units in magnitude.
            let cap = i128::from(i64::MAX) * 1_000_000_000;
            expected = expected.clamp(-cap, cap);
        }
        prop_assert_eq!(parsed.nanos(), expected);
    }

    #[test]
    fn addition_and_subtraction_are_inverse(a in any_nanos(), b in any_nanos()) {
        let (a, b) = (Quantity::from_nanos(a, QuantityFormat::DecimalSi), Quantity::from_nanos(b, QuantityFormat::BinarySi));
        prop_assert_eq!(a + b - b, a);
        prop_assert_eq!((a + b).cmp(&a), b.cmp(&Quantity::ZERO));
    }
}
