//! `joist crds`: the CRD manifests it prints are valid YAML, contain the three Karpenter CRDs, and
//! are exactly what is committed under `charts/joist/crds/` (re-bless with `JOIST_BLESS=1`).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml_ng::Value;
use support::{joist, repo_root, yaml_files};

/// Each CRD document of `joist crds`, keyed by the chart file name upstream uses for it
/// (`<group>_<plural>.yaml`).
fn printed_crds() -> BTreeMap<String, String> {
    let run = joist(&["crds"], b"");
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let mut crds = BTreeMap::new();
    for document in joist_api::document::split(&run.stdout) {
        let crd: Value = serde_yaml_ng::from_str(document.text()).expect("each CRD is valid YAML");
        assert_eq!(crd["apiVersion"].as_str(), Some("apiextensions.k8s.io/v1"));
        assert_eq!(crd["kind"].as_str(), Some("CustomResourceDefinition"));
        let group = crd["spec"]["group"].as_str().expect("spec.group");
        let plural = crd["spec"]["names"]["plural"]
            .as_str()
            .expect("spec.names.plural");
        let previous = crds.insert(format!("{group}_{plural}.yaml"), document.text().to_owned());
        assert!(previous.is_none(), "{group}/{plural} printed twice");
    }
    crds
}

fn chart_crds_dir() -> PathBuf {
    repo_root().join("charts/joist/crds")
}

#[test]
fn crds_are_the_three_karpenter_crds() {
    let names: Vec<String> = printed_crds().into_keys().collect();
    assert_eq!(
        names,
        vec![
            "karpenter.k8s.aws_ec2nodeclasses.yaml",
            "karpenter.sh_nodeclaims.yaml",
            "karpenter.sh_nodepools.yaml",
        ]
    );
}

#[test]
fn committed_chart_crds_equal_the_printed_ones() {
    let printed = printed_crds();
    let dir = chart_crds_dir();
    if std::env::var_os("JOIST_BLESS").is_some() {
        std::fs::create_dir_all(&dir).expect("create charts/joist/crds");
        for stale in yaml_files(&dir) {
            std::fs::remove_file(&stale).expect("remove a stale CRD file");
        }
        for (name, text) in &printed {
            std::fs::write(dir.join(name), text).expect("write a CRD file");
        }
    }
    let committed: BTreeMap<String, String> = yaml_files(&dir)
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (
                name,
                std::fs::read_to_string(&path).expect("readable CRD file"),
            )
        })
        .collect();
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        printed.keys().collect::<Vec<_>>(),
        "charts/joist/crds/ is out of date; run `JOIST_BLESS=1 cargo test -p joist --test crds`",
    );
    for (name, text) in &printed {
        assert!(
            committed[name] == *text,
            "charts/joist/crds/{name} differs from `joist crds`; run `JOIST_BLESS=1 cargo test -p joist --test crds`",
        );
    }
}
