//! Kubernetes label syntax checks with apimachinery's exact messages (`IsQualifiedName`,
//! `IsValidLabelValue`, `IsDNS1123Subdomain`), written as small hand matchers instead of regexes.
//!
//! Each check returns `Err` with every message apimachinery would return, in its order, so API
//! validation can print them verbatim. Lengths are counted in bytes, as Go's `len` does.

/// The regex apimachinery documents for the name part of a qualified name.
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
/// The explanation apimachinery gives for [`QUALIFIED_NAME_FMT`].
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and \
                                  must start and end with an alphanumeric character";
/// Maximum length of the name part of a qualified name.
const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// The regex apimachinery documents for label values.
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
/// The explanation apimachinery gives for [`LABEL_VALUE_FMT`].
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric \
                               characters, '-', '_' or '.', and must start and end with an \
                               alphanumeric character";
/// Maximum length of a label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// The regex apimachinery documents for DNS-1123 subdomains.
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
/// The explanation apimachinery gives for [`DNS1123_SUBDOMAIN_FMT`].
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
                                     alphanumeric characters, '-' or '.', and must start and end \
                                     with an alphanumeric character";
/// Maximum length of a DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

/// Checks a label key (or any "qualified name"): an optional DNS-1123 subdomain prefix and `/`,
/// then a name of at most 63 characters matching `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
pub fn validate_qualified_name(value: &str) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else if let Err(messages) = validate_dns1123_subdomain(prefix) {
                errors.extend(messages.into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            return Err(vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )]);
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errors.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !is_qualified_name_part(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    into_result(errors)
}

/// Checks a label value: empty, or at most 63 characters matching the qualified-name pattern.
pub fn validate_label_value(value: &str) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errors.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    into_result(errors)
}

/// Checks a lowercase RFC 1123 subdomain (at most 253 characters, dot-separated labels of
/// `[a-z0-9]` and `-` that start and end alphanumeric).
pub fn validate_dns1123_subdomain(value: &str) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errors.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !value.split('.').all(is_dns1123_label_part) {
        errors.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    into_result(errors)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` anchored at both ends.
fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` anchored at both ends.
fn is_dns1123_label_part(s: &str) -> bool {
    let lower_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            lower_alnum(first)
                && lower_alnum(last)
                && bytes.iter().all(|b| lower_alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// apimachinery's `MaxLenError`.
fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// apimachinery's `RegexError`, including its doubled spaces between examples.
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let examples: String = examples
        .iter()
        .enumerate()
        .fold(String::new(), |mut acc, (i, e)| {
            if i > 0 {
                acc.push_str(" or ");
            }
            acc.push('\'');
            acc.push_str(e);
            acc.push_str("', ");
            acc
        });
    format!("{message} (e.g. {examples}regex used for validation is '{regex}')")
}

/// `Ok` when no message was collected.
fn into_result(errors: Vec<String>) -> Result<(), Vec<String>> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME_REGEX_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and \
        must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
        '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    #[test]
    fn accepts_valid_qualified_names() {
        for key in [
            "a",
            "A1",
            "my.name",
            "123-abc",
            "example.com/MyName",
            "a_b",
            "k8s.io/x.y-z",
        ] {
            assert_eq!(validate_qualified_name(key), Ok(()), "{key}");
        }
        assert_eq!(validate_qualified_name(&"a".repeat(63)), Ok(()));
    }

    #[test]
    fn name_part_messages_match_apimachinery() {
        assert_eq!(
            validate_qualified_name("-bad"),
            Err(vec![format!("name part {NAME_REGEX_MSG}")])
        );
        assert_eq!(
            validate_qualified_name(""),
            Err(vec![
                "name part must be non-empty".to_owned(),
                format!("name part {NAME_REGEX_MSG}")
            ])
        );
        assert_eq!(
            validate_qualified_name(&"a".repeat(64)),
            Err(vec![
                "name part must be no more than 63 characters".to_owned()
            ])
        );
    }

    #[test]
    fn prefix_messages_match_apimachinery() {
        assert_eq!(
            validate_qualified_name("/name"),
            Err(vec!["prefix part must be non-empty".to_owned()])
        );
        assert_eq!(
            validate_qualified_name("Example.com/name"),
            Err(vec![
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case \
                alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
                character (e.g. 'example.com', regex used for validation is \
                '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                    .to_owned()
            ])
        );
        let long_prefix = format!("{}/x", "a".repeat(254));
        assert_eq!(
            validate_qualified_name(&long_prefix).unwrap_err(),
            ["prefix part must be no more than 253 characters"]
        );
        assert!(
            validate_qualified_name("a..b/x").is_err(),
            "empty DNS label"
        );
        assert!(
            validate_qualified_name("a-.b/x").is_err(),
            "label ends with '-'"
        );
    }

    #[test]
    fn more_than_one_slash_is_a_single_message() {
        assert_eq!(
            validate_qualified_name("a/b/c"),
            Err(vec![format!(
                "a qualified name {NAME_REGEX_MSG} with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
            )])
        );
    }

    #[test]
    fn label_values_follow_apimachinery() {
        for value in ["", "a", "my_value", "12345", "a.b-c_d"] {
            assert_eq!(validate_label_value(value), Ok(()), "{value:?}");
        }
        assert_eq!(
            validate_label_value("bad value"),
            Err(vec![
                "a valid label must be an empty string or consist of alphanumeric characters, \
                '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
                'MyValue',  or 'my_value',  or '12345', regex used for validation is \
                '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                    .to_owned()
            ])
        );
        assert_eq!(
            validate_label_value(&"a".repeat(64)),
            Err(vec!["must be no more than 63 characters".to_owned()])
        );
        assert_eq!(
            validate_label_value(&format!("{}-", "a".repeat(63)))
                .unwrap_err()
                .len(),
            2
        );
        assert!(validate_label_value("é").is_err(), "non-ASCII is rejected");
    }
}
