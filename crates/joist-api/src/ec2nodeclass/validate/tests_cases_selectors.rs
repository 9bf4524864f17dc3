//! Cases for spec aws §13 items 4–6: subnet, security-group, capacity-reservation and AMI
//! selector terms, including the alias rules.

use super::super::crd;
use super::super::*;
use super::tests::*;
use super::tests_cases::{
    ALIAS_FAMILY, ALIAS_FORMAT, Case, FAMILY_REQUIRED, NOT_CHECKED, TERM_TAGS, case, case_owned,
    pattern_error,
};

fn subnet(id: Option<&str>, tag_pairs: &[(&str, &str)]) -> SubnetSelectorTerm {
    SubnetSelectorTerm {
        id: id.map(str::to_owned),
        tags: if tag_pairs.is_empty() {
            None
        } else {
            tags(tag_pairs)
        },
        ..Default::default()
    }
}

fn subnet_and_security_group_cases() -> Vec<Case> {
    let sg_empty = [
        (
            "spec.securityGroupSelectorTerms",
            "securityGroupSelectorTerms cannot be empty",
        ),
        (
            "spec.securityGroupSelectorTerms",
            "'id' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term",
        ),
        (
            "spec.securityGroupSelectorTerms",
            "'name' is mutually exclusive, cannot be set with a combination of other fields in a security group selector term",
        ),
    ];
    vec![
        case(
            "4: subnet terms absent",
            |s| s.subnet_selector_terms = None,
            &[
                ("spec.subnetSelectorTerms", "Required value"),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "4: subnet terms empty (upstream's !all() also fails on an empty list)",
            |s| s.subnet_selector_terms = Some(vec![]),
            &[
                (
                    "spec.subnetSelectorTerms",
                    "subnetSelectorTerms cannot be empty",
                ),
                (
                    "spec.subnetSelectorTerms",
                    "'id' is mutually exclusive, cannot be set with a combination of other fields in a subnet selector term",
                ),
            ],
        ),
        case(
            "4: subnet term without fields",
            |s| s.subnet_selector_terms = Some(vec![SubnetSelectorTerm::default()]),
            &[(
                "spec.subnetSelectorTerms",
                "expected at least one, got none, ['tags', 'id']",
            )],
        ),
        case(
            "4: subnet tag value empty",
            |s| s.subnet_selector_terms = Some(vec![subnet(None, &[("test", "")])]),
            &[("spec.subnetSelectorTerms[0].tags", TERM_TAGS)],
        ),
        case(
            "4: last subnet term invalid",
            |s| {
                let good = |k| subnet(None, &[(k, "v")]);
                s.subnet_selector_terms = Some(vec![
                    good("a"),
                    good("b"),
                    good("c"),
                    subnet(None, &[("", "testvalue4")]),
                ]);
            },
            &[("spec.subnetSelectorTerms[3].tags", TERM_TAGS)],
        ),
        case(
            "4: subnet id with tags",
            |s| {
                s.subnet_selector_terms =
                    Some(vec![subnet(Some("subnet-12345749"), &[("test", "v")])])
            },
            &[(
                "spec.subnetSelectorTerms",
                "'id' is mutually exclusive, cannot be set with a combination of other fields in a subnet selector term",
            )],
        ),
        case_owned(
            "4: malformed subnet id",
            |s| s.subnet_selector_terms = Some(vec![subnet(Some("sub-123"), &[])]),
            vec![pattern_error(
                "spec.subnetSelectorTerms[0].id",
                "sub-123",
                crd::SUBNET_ID,
            )],
        ),
        case(
            "4: more than 20 subnet tags",
            |s| {
                let many: Vec<(String, String)> =
                    (0..21).map(|i| (format!("k{i}"), "v".to_owned())).collect();
                s.subnet_selector_terms = Some(vec![SubnetSelectorTerm {
                    tags: Some(many.into_iter().collect()),
                    ..Default::default()
                }]);
            },
            &[
                (
                    "spec.subnetSelectorTerms[0].tags",
                    "Too many: 21: must have at most 20 items",
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "4: more than 30 subnet terms",
            |s| s.subnet_selector_terms = Some(vec![subnet(Some("subnet-1"), &[]); 31]),
            &[
                (
                    "spec.subnetSelectorTerms",
                    "Too many: 31: must have at most 30 items",
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "4: security group terms absent",
            |s| s.security_group_selector_terms = None,
            &[
                ("spec.securityGroupSelectorTerms", "Required value"),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "4: security group terms empty",
            |s| s.security_group_selector_terms = Some(vec![]),
            &sg_empty,
        ),
        case(
            "4: security group term without fields",
            |s| s.security_group_selector_terms = Some(vec![SecurityGroupSelectorTerm::default()]),
            &[(
                "spec.securityGroupSelectorTerms",
                "expected at least one, got none, ['tags', 'id', 'name']",
            )],
        ),
        case(
            "4: security group tag key empty",
            |s| {
                s.security_group_selector_terms = Some(vec![SecurityGroupSelectorTerm {
                    tags: tags(&[("", "v")]),
                    ..Default::default()
                }])
            },
            &[("spec.securityGroupSelectorTerms[0].tags", TERM_TAGS)],
        ),
        case(
            "4: security group id with name",
            |s| {
                s.security_group_selector_terms = Some(vec![SecurityGroupSelectorTerm {
                    id: some("sg-12345749"),
                    name: some("my-sg"),
                    ..Default::default()
                }])
            },
            &sg_empty[1..],
        ),
        case(
            "4: security group name with tags",
            |s| {
                s.security_group_selector_terms = Some(vec![SecurityGroupSelectorTerm {
                    name: some("my-sg"),
                    tags: tags(&[("a", "b")]),
                    ..Default::default()
                }])
            },
            &sg_empty[2..],
        ),
        case_owned(
            "4: malformed security group id",
            |s| {
                s.security_group_selector_terms = Some(vec![SecurityGroupSelectorTerm {
                    id: some("group-1"),
                    ..Default::default()
                }])
            },
            vec![pattern_error(
                "spec.securityGroupSelectorTerms[0].id",
                "group-1",
                crd::SECURITY_GROUP_ID,
            )],
        ),
    ]
}

fn capacity_reservation_cases() -> Vec<Case> {
    let term = |id: Option<&str>, owner: Option<&str>, criteria: Option<&str>, with_tags: bool| {
        CapacityReservationSelectorTerm {
            id: id.map(str::to_owned),
            owner_id: owner.map(str::to_owned),
            instance_match_criteria: criteria.map(str::to_owned),
            tags: if with_tags {
                tags(&[("test", "testvalue")])
            } else {
                None
            },
            ..Default::default()
        }
    };
    let id_exclusive = "'id' is mutually exclusive, cannot be set along with other fields in a capacity reservation selector term";
    vec![
        case_owned(
            "5: malformed reservation id",
            move |s| {
                s.capacity_reservation_selector_terms =
                    Some(vec![term(Some("r-12345749"), None, None, false)])
            },
            vec![pattern_error(
                "spec.capacityReservationSelectorTerms[0].id",
                "r-12345749",
                crd::CAPACITY_RESERVATION_ID,
            )],
        ),
        case_owned(
            "5: ownerID of 11 digits",
            move |s| {
                s.capacity_reservation_selector_terms =
                    Some(vec![term(None, Some("01234567890"), None, true)])
            },
            vec![pattern_error(
                "spec.capacityReservationSelectorTerms[0].ownerID",
                "01234567890",
                crd::OWNER_ID,
            )],
        ),
        case(
            "5: ownerID alone",
            move |s| {
                s.capacity_reservation_selector_terms =
                    Some(vec![term(None, Some("012345678901"), None, false)])
            },
            &[(
                "spec.capacityReservationSelectorTerms",
                "expected at least one, got none, ['tags', 'id', 'instanceMatchCriteria']",
            )],
        ),
        case(
            "5: unknown instanceMatchCriteria",
            move |s| {
                s.capacity_reservation_selector_terms =
                    Some(vec![term(None, None, Some("closed"), false)])
            },
            &[
                (
                    "spec.capacityReservationSelectorTerms[0].instanceMatchCriteria",
                    r#"Unsupported value: "closed": supported values: "open", "targeted""#,
                ),
                ("<nil>", NOT_CHECKED),
            ],
        ),
        case(
            "5: id with instanceMatchCriteria",
            move |s| {
                s.capacity_reservation_selector_terms =
                    Some(vec![term(Some("cr-12345749"), None, Some("open"), false)])
            },
            &[("spec.capacityReservationSelectorTerms", id_exclusive)],
        ),
        case(
            "5: id with ownerID",
            move |s| {
                s.capacity_reservation_selector_terms = Some(vec![term(
                    Some("cr-12345749"),
                    Some("012345678901"),
                    None,
                    false,
                )])
            },
            &[("spec.capacityReservationSelectorTerms", id_exclusive)],
        ),
        case(
            "5: id with tags",
            move |s| {
                s.capacity_reservation_selector_terms =
                    Some(vec![term(Some("cr-12345749"), None, None, true)])
            },
            &[("spec.capacityReservationSelectorTerms", id_exclusive)],
        ),
        case(
            "5: explicit empty list (upstream's !all() fails on it)",
            |s| s.capacity_reservation_selector_terms = Some(vec![]),
            &[("spec.capacityReservationSelectorTerms", id_exclusive)],
        ),
    ]
}

fn alias_cases() -> Vec<Case> {
    let at = "spec.amiSelectorTerms[0].alias";
    let bad = |alias: &'static str, messages: &[&str]| {
        let expected = messages.iter().map(|m| (at, (*m).to_owned())).collect();
        case_owned(
            "6: malformed alias",
            move |s| s.ami_selector_terms = alias_terms(alias),
            expected,
        )
    };
    let mixed = |term: AmiSelectorTerm, messages: &[&str]| {
        let expected = messages
            .iter()
            .map(|m| ("spec.amiSelectorTerms", (*m).to_owned()))
            .collect();
        let mutate = move |s: &mut EC2NodeClassSpec| {
            // A family matching the alias, so only the term rules can fail.
            s.ami_family = some("AL2023");
            s.ami_selector_terms = Some(vec![term.clone()]);
        };
        case_owned("6: alias or id mixed with other fields", mutate, expected)
    };
    let id_excl = "'id' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms";
    let alias_excl = "'alias' is mutually exclusive, cannot be set with a combination of other fields in amiSelectorTerms";
    let alias = || AmiSelectorTerm {
        alias: some("al2023@latest"),
        ..Default::default()
    };
    let id = || AmiSelectorTerm {
        id: some("ami-1234749"),
        ..Default::default()
    };
    vec![
        bad("@latest", &[ALIAS_FORMAT, ALIAS_FAMILY]),
        bad("al2023", &[ALIAS_FORMAT]),
        bad("al2023@", &[ALIAS_FORMAT]),
        bad("al2023-latest", &[ALIAS_FORMAT, ALIAS_FAMILY]),
        bad("ubuntu@latest", &[ALIAS_FAMILY]),
        bad("windows2019@v1.0.0", &["windows families may only specify version 'latest'"]),
        bad("windows2022@v1.0.0", &["windows families may only specify version 'latest'"]),
        case_owned(
            "6: windows alias without version (CEL index error)",
            |s| s.ami_selector_terms = alias_terms("windows2022"),
            vec![
                (at, ALIAS_FORMAT.to_owned()),
                (at, "index out of bounds: 1 evaluating rule: windows families may only specify version 'latest'".to_owned()),
            ],
        ),
        case(
            "6: alias longer than 30",
            |s| s.ami_selector_terms = alias_terms("al2023@v20240625-0123456789abcdef"),
            &[(at, "Too long: may not be more than 30 bytes"), ("<nil>", NOT_CHECKED)],
        ),
        mixed(AmiSelectorTerm { id: some("ami-1234749"), ..alias() }, &[id_excl, alias_excl]),
        mixed(AmiSelectorTerm { tags: tags(&[("test", "v")]), ..alias() }, &[alias_excl]),
        mixed(AmiSelectorTerm { name: some("my-ami"), ..alias() }, &[alias_excl]),
        mixed(AmiSelectorTerm { owner: some("123456789"), ..alias() }, &[alias_excl]),
        mixed(AmiSelectorTerm { tags: tags(&[("test", "v")]), ..id() }, &[id_excl]),
        mixed(AmiSelectorTerm { name: some("my-ami"), owner: some("self"), ..id() }, &[id_excl]),
        case(
            "6: alias with another term",
            move |s| s.ami_selector_terms = Some(vec![alias(), id()]),
            &[("spec.amiSelectorTerms", "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms")],
        ),
        case(
            "6: ami term without fields",
            |s| s.ami_selector_terms = Some(vec![AmiSelectorTerm::default()]),
            &[
                ("spec", FAMILY_REQUIRED),
                ("spec.amiSelectorTerms", "expected at least one, got none, ['tags', 'id', 'name', 'alias', 'ssmParameter']"),
            ],
        ),
        case(
            "6: no ami terms",
            |s| s.ami_selector_terms = Some(vec![]),
            &[("spec.amiSelectorTerms", "Invalid value: 0: spec.amiSelectorTerms in body should have at least 1 items"), ("spec", FAMILY_REQUIRED)],
        ),
        case(
            "6: ami tag key empty",
            |s| {
                s.ami_family = some("AL2023");
                s.ami_selector_terms = Some(vec![AmiSelectorTerm { tags: tags(&[("", "v")]), ..Default::default() }]);
            },
            &[("spec.amiSelectorTerms[0].tags", TERM_TAGS)],
        ),
        case_owned(
            "6: malformed ami id",
            |s| {
                s.ami_family = some("AL2023");
                s.ami_selector_terms = Some(vec![AmiSelectorTerm { id: some("image-1"), ..Default::default() }]);
            },
            vec![pattern_error("spec.amiSelectorTerms[0].id", "image-1", crd::AMI_ID)],
        ),
    ]
}

/// The selector-term cases of the table.
pub(super) fn cases() -> Vec<Case> {
    let mut cases = subnet_and_security_group_cases();
    cases.extend(capacity_reservation_cases());
    cases.extend(alias_cases());
    cases
}
