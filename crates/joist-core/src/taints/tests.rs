use super::*;

fn taint(text: &str) -> Taint {
    match text.parse() {
        Ok(taint) => taint,
        Err(error) => panic!("{text:?}: {error}"),
    }
}

fn taints(texts: &[&str]) -> Taints {
    texts.iter().map(|text| taint(text)).collect()
}

#[test]
fn taints_print_and_parse_in_kubectl_spelling() {
    let with_value = Taint::new("dedicated", "gpu", Effect::NoSchedule);
    assert_eq!(with_value.to_string(), "dedicated=gpu:NoSchedule");
    assert_eq!(taint("dedicated=gpu:NoSchedule"), with_value);
    let without_value = Taint::new("example.com/special", "", Effect::PreferNoSchedule);
    assert_eq!(
        without_value.to_string(),
        "example.com/special:PreferNoSchedule"
    );
    assert_eq!(taint("example.com/special:PreferNoSchedule"), without_value);
    assert_eq!(
        taint("k=:NoExecute"),
        Taint::new("k", "", Effect::NoExecute)
    );
}

#[test]
fn malformed_taints_are_rejected_with_kubectl_messages() {
    for input in [
        "dedicated",
        "=v:NoSchedule",
        "a=b=c:NoSchedule",
        "a:NoSchedule:x",
        ":NoSchedule",
    ] {
        assert_eq!(
            input.parse::<Taint>(),
            Err(TaintsError::InvalidTaint {
                input: input.to_owned()
            })
        );
    }
    let error = "a=b:Sometimes".parse::<Taint>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid taint effect: Sometimes, unsupported taint effect"
    );
    assert_eq!(
        TaintsError::InvalidTaint { input: "x".into() }.to_string(),
        "invalid taint spec: x"
    );
}

#[test]
fn taints_and_tolerations_use_the_api_json_shape() {
    let json = serde_json::to_string(&taint("a=b:NoExecute")).unwrap();
    assert_eq!(json, r#"{"key":"a","value":"b","effect":"NoExecute"}"#);
    let json = serde_json::to_string(&taint("a:NoSchedule")).unwrap();
    assert_eq!(json, r#"{"key":"a","effect":"NoSchedule"}"#);
    let read: Taint =
        serde_json::from_str(r#"{"key":"a","effect":"NoSchedule","timeAdded":null}"#).unwrap();
    assert_eq!(read, taint("a:NoSchedule"));

    let toleration: Toleration = serde_json::from_str(
        r#"{"key":"a","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}"#,
    )
    .unwrap();
    assert_eq!(
        toleration,
        Toleration {
            toleration_seconds: Some(300),
            ..Toleration::exists("a", Some(Effect::NoExecute))
        }
    );
    let defaulted: Toleration =
        serde_json::from_str(r#"{"key":"a","operator":"","value":"b","effect":""}"#).unwrap();
    assert_eq!(defaulted, Toleration::equal("a", "b", None));
    assert_eq!(
        serde_json::to_string(&defaulted).unwrap(),
        r#"{"key":"a","value":"b"}"#
    );
    assert_eq!(
        serde_json::to_string(&Toleration::everything()).unwrap(),
        r#"{"operator":"Exists"}"#
    );
    assert!(serde_json::from_str::<Toleration>(r#"{"operator":"Maybe"}"#).is_err());
    assert!(serde_json::from_str::<Toleration>(r#"{"effect":"Sometimes"}"#).is_err());
}

#[test]
fn an_empty_key_with_exists_tolerates_everything() {
    let everything = Toleration::everything();
    for text in ["a=b:NoSchedule", "c:PreferNoSchedule", "d=e:NoExecute"] {
        assert!(everything.tolerates(&taint(text)), "{text}");
    }
    // Restricted to one effect, it tolerates every key with that effect only.
    let no_schedule = Toleration {
        effect: Some(Effect::NoSchedule),
        ..Toleration::everything()
    };
    assert!(no_schedule.tolerates(&taint("anything=at-all:NoSchedule")));
    assert!(!no_schedule.tolerates(&taint("anything=at-all:NoExecute")));
}

#[test]
fn no_effect_matches_every_effect_and_a_given_effect_must_be_equal() {
    let any_effect = Toleration::equal("a", "b", None);
    assert!(any_effect.tolerates(&taint("a=b:NoSchedule")));
    assert!(any_effect.tolerates(&taint("a=b:NoExecute")));
    let no_execute = Toleration::equal("a", "b", Some(Effect::NoExecute));
    assert!(no_execute.tolerates(&taint("a=b:NoExecute")));
    assert!(!no_execute.tolerates(&taint("a=b:NoSchedule")));
    assert!(!no_execute.tolerates(&taint("a=b:PreferNoSchedule")));
}

#[test]
fn equal_compares_keys_and_values() {
    let toleration = Toleration::equal("a", "b", Some(Effect::NoSchedule));
    assert!(toleration.tolerates(&taint("a=b:NoSchedule")));
    assert!(!toleration.tolerates(&taint("a=c:NoSchedule")));
    assert!(!toleration.tolerates(&taint("a:NoSchedule")));
    assert!(!toleration.tolerates(&taint("x=b:NoSchedule")));
    // An Equal toleration with an empty value tolerates exactly the value-less taint.
    assert!(Toleration::equal("a", "", None).tolerates(&taint("a:NoSchedule")));
    // An empty key with Equal matches any key but still compares values.
    let any_key = Toleration::equal("", "b", None);
    assert!(any_key.tolerates(&taint("z=b:NoSchedule")));
    assert!(!any_key.tolerates(&taint("z=c:NoSchedule")));
}

#[test]
fn exists_ignores_the_value() {
    let toleration = Toleration {
        value: "ignored".into(),
        ..Toleration::exists("a", None)
    };
    assert!(toleration.tolerates(&taint("a=b:NoSchedule")));
    assert!(toleration.tolerates(&taint("a:PreferNoSchedule")));
    assert!(!toleration.tolerates(&taint("b=a:NoSchedule")));
}

#[test]
fn lt_and_gt_compare_integer_values() {
    let below = |value: &str| Toleration {
        operator: TolerationOperator::Lt,
        ..Toleration::equal("level", value, None)
    };
    let above = |value: &str| Toleration {
        operator: TolerationOperator::Gt,
        ..Toleration::equal("level", value, None)
    };
    assert!(below("5").tolerates(&taint("level=3:NoSchedule")));
    assert!(!below("5").tolerates(&taint("level=5:NoSchedule")));
    assert!(above("5").tolerates(&taint("level=7:NoSchedule")));
    assert!(above("-1").tolerates(&taint("level=0:NoSchedule")));
    assert!(!above("5").tolerates(&taint("level=5:NoSchedule")));
    // Values that are not integers are never tolerated.
    assert!(!below("5").tolerates(&taint("level=low:NoSchedule")));
    assert!(!below("five").tolerates(&taint("level=3:NoSchedule")));
}

#[test]
fn every_taint_must_be_tolerated_including_prefer_no_schedule() {
    let node = taints(&["a=1:NoSchedule", "b:PreferNoSchedule", "c=3:NoExecute"]);
    let all = [
        Toleration::equal("a", "1", None),
        Toleration::exists("b", None),
        Toleration::exists("c", Some(Effect::NoExecute)),
    ];
    assert!(node.is_tolerated_by(&all));
    assert_eq!(node.tolerates_all(&all), Ok(()));
    assert!(Taints::default().is_tolerated_by(&[]));

    let missing_prefer = [
        Toleration::equal("a", "1", None),
        Toleration::exists("c", None),
    ];
    assert!(!node.is_tolerated_by(&missing_prefer));
    let error = node.tolerates_all(&missing_prefer).unwrap_err();
    assert_eq!(
        error,
        TaintsError::NotTolerated {
            taints: vec![taint("b:PreferNoSchedule")]
        }
    );
    assert_eq!(
        error.to_string(),
        "did not tolerate taint (taint=b:PreferNoSchedule)"
    );

    let error = node.tolerates_all(&[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "did not tolerate taint (taint=a=1:NoSchedule); did not tolerate taint (taint=b:PreferNoSchedule); \
         did not tolerate taint (taint=c=3:NoExecute)"
    );
}

#[test]
fn merge_appends_only_taints_with_a_new_key_and_effect() {
    let base = taints(&["a=1:NoSchedule", "b:NoExecute"]);
    let merged = base.merge(&taints(&[
        "a=2:NoSchedule",
        "a=3:NoExecute",
        "b=x:NoExecute",
        "c:PreferNoSchedule",
    ]));
    assert_eq!(
        merged,
        taints(&[
            "a=1:NoSchedule",
            "b:NoExecute",
            "a=3:NoExecute",
            "c:PreferNoSchedule"
        ])
    );
    assert_eq!(Taints::default().merge(&base), base);
}

#[test]
fn known_ephemeral_taints_match_by_key_and_effect() {
    for text in [
        "node.kubernetes.io/not-ready:NoSchedule",
        "node.kubernetes.io/not-ready:NoExecute",
        "node.kubernetes.io/unreachable:NoSchedule",
        "node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule",
        "node.cloudprovider.kubernetes.io/uninitialized=other:NoSchedule",
        "karpenter.sh/unregistered:NoExecute",
        "readiness.k8s.io/network-ready=pending:NoSchedule",
        "readiness.k8s.io/gpu:NoExecute",
    ] {
        assert!(is_known_ephemeral(&taint(text)), "{text}");
    }
    for text in [
        "node.kubernetes.io/unreachable:NoExecute",
        "karpenter.sh/unregistered:NoSchedule",
        "karpenter.sh/disrupted:NoSchedule",
        "example.com/readiness.k8s.io/x:NoSchedule",
    ] {
        assert!(!is_known_ephemeral(&taint(text)), "{text}");
    }
}

#[test]
fn karpenter_taints_have_their_documented_form() {
    assert_eq!(
        Taint::disrupted_no_schedule().to_string(),
        "karpenter.sh/disrupted:NoSchedule"
    );
    assert_eq!(
        Taint::unregistered_no_execute().to_string(),
        "karpenter.sh/unregistered:NoExecute"
    );
    assert!(Taint::disrupted_no_schedule().matches(&taint("karpenter.sh/disrupted=x:NoSchedule")));
    assert!(!Taint::disrupted_no_schedule().matches(&taint("karpenter.sh/disrupted:NoExecute")));
}
