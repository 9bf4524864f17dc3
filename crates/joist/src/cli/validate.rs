//! `joist validate -f FILE|-`: checks manifests the way the API server would admit them, with
//! the CRDs of `joist crds` (the AWS provider's label policy).

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use joist_api::document::{CheckedObject, DocumentError, KINDS, check_stream_with};

/// Arguments of `joist validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A manifest file, a directory of manifests (`*.yaml`, `*.yml`, `*.json`), or `-` for
    /// standard input. May be repeated.
    #[arg(short = 'f', long = "filename", value_name = "FILE|-", required = true)]
    files: Vec<PathBuf>,
}

/// How a run ends, ordered from best to worst; the worst outcome of any document wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// Every object is valid.
    Valid,
    /// Some object was read but is invalid.
    Invalid,
    /// Some document could not be read as an object.
    Unreadable,
}

impl From<Verdict> for ExitCode {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Valid => ExitCode::SUCCESS,
            Verdict::Invalid => ExitCode::from(1),
            Verdict::Unreadable => ExitCode::from(2),
        }
    }
}

/// One input to read, named as the user named it.
#[derive(Debug)]
enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Self::Stdin => "-".to_owned(),
            Self::File(path) => path.display().to_string(),
        }
    }

    fn read(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        match self {
            Self::Stdin => {
                io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .context("cannot read standard input")?;
            }
            Self::File(path) => {
                bytes =
                    fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            }
        }
        Ok(bytes)
    }
}

/// Runs `joist validate`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let sources = sources(&args.files)?;
    // With several inputs, document errors say which input they are about.
    let label_errors = sources.len() > 1;
    let (mut stdout, mut stderr) = (io::stdout().lock(), io::stderr().lock());
    let mut verdict = Verdict::Valid;
    let mut objects = 0;
    let options = super::policy::aws_validation_options();
    for source in &sources {
        let outcomes = check_stream_with(&source.read()?, KINDS, &options);
        objects += outcomes.len();
        let label = label_errors.then(|| source.label());
        verdict = verdict.max(report(
            &outcomes,
            label.as_deref(),
            &mut stdout,
            &mut stderr,
        )?);
    }
    if objects == 0 {
        let names: Vec<String> = sources.iter().map(Source::label).collect();
        bail!("no objects found in {}", names.join(", "));
    }
    Ok(verdict.into())
}

/// The inputs named on the command line, with directories expanded to their manifest files in
/// name order.
fn sources(files: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for file in files {
        if file.as_os_str() == "-" {
            sources.push(Source::Stdin);
        } else if file.is_dir() {
            let mut entries = manifests_in(file)?;
            if entries.is_empty() {
                bail!("no *.yaml, *.yml or *.json files in {}", file.display());
            }
            entries.sort();
            sources.extend(entries.into_iter().map(Source::File));
        } else {
            sources.push(Source::File(file.clone()));
        }
    }
    Ok(sources)
}

fn manifests_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read_error = || format!("cannot read directory {}", dir.display());
    let mut manifests = Vec::new();
    for entry in fs::read_dir(dir).with_context(read_error)? {
        let path = entry.with_context(read_error)?.path();
        let is_manifest = path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json");
        if is_manifest && path.is_file() {
            manifests.push(path);
        }
    }
    Ok(manifests)
}

/// Prints each object's outcome to `out` and each unreadable document to `err`, in document
/// order, and returns the worst verdict.
fn report(
    outcomes: &[Result<CheckedObject, DocumentError>],
    label: Option<&str>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<Verdict> {
    let mut verdict = Verdict::Valid;
    for outcome in outcomes {
        match outcome {
            Ok(object) if object.is_valid() => {
                writeln!(out, "valid: {}/{}", object.kind, object.name)?
            }
            Ok(object) => {
                verdict = verdict.max(Verdict::Invalid);
                for error in &object.errors {
                    writeln!(out, "{}/{}: {error}", object.kind, object.name)?;
                }
            }
            Err(error) => {
                verdict = Verdict::Unreadable;
                // Keep the two streams in document order when both go to one terminal.
                out.flush()?;
                match label {
                    Some(label) => writeln!(err, "{label}: {error}")?,
                    None => writeln!(err, "{error}")?,
                }
            }
        }
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use joist_api::document::Position;
    use joist_api::validation::{FieldError, FieldPath};

    use super::*;

    fn object(name: &str, errors: &[(&str, &str)]) -> Result<CheckedObject, DocumentError> {
        let errors = errors
            .iter()
            .map(|(path, message)| FieldError {
                path: (*path).to_owned(),
                message: (*message).to_owned(),
            })
            .collect();
        Ok(CheckedObject {
            at: Position {
                document: 1,
                line: 1,
            },
            kind: "NodePool".into(),
            name: name.into(),
            errors,
        })
    }

    fn rendered(
        outcomes: &[Result<CheckedObject, DocumentError>],
        label: Option<&str>,
    ) -> (String, String, Verdict) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let verdict = report(outcomes, label, &mut out, &mut err).expect("writing to memory");
        (
            String::from_utf8(out).expect("utf-8"),
            String::from_utf8(err).expect("utf-8"),
            verdict,
        )
    }

    #[test]
    fn valid_objects_print_one_line_and_exit_zero() {
        let (out, err, verdict) = rendered(&[object("default", &[])], None);
        assert_eq!(
            (out.as_str(), err.as_str(), verdict),
            ("valid: NodePool/default\n", "", Verdict::Valid)
        );
    }

    #[test]
    fn each_field_error_is_its_own_line() {
        let weight = FieldPath::root().child("spec").child("weight").to_string();
        let (out, _, verdict) = rendered(
            &[
                object("a", &[(&weight, "too big"), ("spec.limits", "bad")]),
                object("b", &[]),
            ],
            None,
        );
        assert_eq!(
            out,
            "NodePool/a: spec.weight: too big\nNodePool/a: spec.limits: bad\nvalid: NodePool/b\n"
        );
        assert_eq!(verdict, Verdict::Invalid);
    }

    #[test]
    fn unreadable_documents_go_to_stderr_and_win() {
        let missing = DocumentError::MissingField {
            at: Position {
                document: 2,
                line: 9,
            },
            field: "kind",
        };
        let outcomes = [object("a", &[("spec", "bad")]), Err(missing)];
        let (out, err, verdict) = rendered(&outcomes, Some("x.yaml"));
        assert_eq!(out, "NodePool/a: spec: bad\n");
        assert_eq!(err, "x.yaml: document 2 (line 9): missing kind\n");
        assert_eq!(verdict, Verdict::Unreadable);
    }
}
