//! Logs shaped like upstream's (spec core §6.3): one zap-style JSON object per line, so the log
//! queries users wrote for Karpenter keep matching.
//!
//! Key order follows upstream: `level` (upper-case), `time` (ISO 8601, milliseconds, UTC `Z`),
//! `logger` (`controller`), `caller` (debug level only), `message`, `commit`, then the
//! controller-runtime context (`controller`, `controllerGroup`, `controllerKind`, the object key
//! such as `"NodeClaim":{"name":…}`, `namespace`, `name`) and the message's own fields.
//!
//! Call sites log plain fields (`controller = "nodeclaim.lifecycle", NodeClaim = %name`); this
//! formatter turns them into upstream's shape, so no call site has to build JSON:
//! - an object field (`NodeClaim`, `Node`, `NodePool`, `Pod`, ...) becomes `{"name": …}`
//!   (`{"namespace": …, "name": …}` for a `namespace/name` key);
//! - for a reconciler's own kind (the `controller` prefix says which: `nodeclaim.*` is a
//!   NodeClaim reconciler), `controllerGroup`, `controllerKind`, `namespace` and `name` are added
//!   as controller-runtime adds them; singletons (`provisioner`, `disruption`) get empty
//!   `namespace` and `name`;
//! - a field whose text is a JSON object or array (resource lists) is embedded as JSON.
//!
//! Departures, on purpose: no `reconcileID` (joist's reconcilers have no per-reconcile ID to
//! report, and a made-up one would mislead), and no sampling (zap drops repeats above 100 per
//! second per message; joist's volume does not need it).

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The binary's VCS revision (`git rev-parse --short HEAD` at build time; `unknown` when the
/// build had no git checkout), upstream's `commit` key.
pub const COMMIT: &str = env!("JOIST_COMMIT");

/// Fields that name an object: logged as an object key, as controller-runtime logs them.
const OBJECT_KEYS: [&str; 7] = [
    "NodeClaim",
    "Node",
    "NodePool",
    "Pod",
    "EC2NodeClass",
    "DaemonSet",
    "PodDisruptionBudget",
];

/// Formats events as upstream's JSON log lines.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamJson {
    /// Whether to add `caller` (upstream adds it only at `LOG_LEVEL=debug`).
    pub caller: bool,
}

impl<S, N> FormatEvent<S, N> for UpstreamJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let caller = self.caller.then(|| {
            let metadata = event.metadata();
            format!(
                "{}:{}",
                metadata.file().unwrap_or("?"),
                metadata.line().unwrap_or(0)
            )
        });
        let line = render(
            *event.metadata().level(),
            &chrono::Utc::now(),
            caller.as_deref(),
            fields,
        );
        writeln!(writer, "{line}")
    }
}

/// An event's fields in the order they were logged.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, Value::from(format!("{value:?}")));
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
        } else {
            self.pairs.push((field.name().to_owned(), value));
        }
    }

    /// Removes and returns a field's text.
    fn take(&mut self, key: &str) -> Option<String> {
        let index = self.pairs.iter().position(|(k, _)| k == key)?;
        match self.pairs.remove(index).1 {
            Value::String(text) => Some(text),
            other => Some(other.to_string()),
        }
    }
}

/// One log line (without the newline).
fn render(
    level: Level,
    time: &chrono::DateTime<chrono::Utc>,
    caller: Option<&str>,
    mut fields: Fields,
) -> String {
    let mut line = Map::new();
    line.insert("level".into(), Value::from(level.as_str()));
    line.insert(
        "time".into(),
        Value::from(time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    );
    line.insert("logger".into(), Value::from("controller"));
    if let Some(caller) = caller {
        line.insert("caller".into(), Value::from(caller));
    }
    line.insert("message".into(), Value::from(fields.message.as_str()));
    line.insert("commit".into(), Value::from(COMMIT));
    if let Some(controller) = fields.take("controller") {
        insert_controller_context(&mut line, &controller, &mut fields);
    }
    for (key, value) in fields.pairs {
        let value = match value {
            Value::String(text) if OBJECT_KEYS.contains(&key.as_str()) => object_key(&text),
            Value::String(text) => embedded_json(text),
            other => other,
        };
        line.insert(key, value);
    }
    Value::Object(line).to_string()
}

/// controller-runtime's context: the controller, its kind, and the reconciled object's key.
fn insert_controller_context(line: &mut Map<String, Value>, controller: &str, fields: &mut Fields) {
    line.insert("controller".into(), Value::from(controller));
    let Some((group, kind)) = reconciled_kind(controller) else {
        // A singleton reconciles no object: upstream logs an empty key.
        line.insert("namespace".into(), Value::from(""));
        line.insert("name".into(), Value::from(""));
        return;
    };
    line.insert("controllerGroup".into(), Value::from(group));
    line.insert("controllerKind".into(), Value::from(kind));
    if let Some(key) = fields.take(kind) {
        let object = object_key(&key);
        let namespace = object.get("namespace").cloned().unwrap_or_default();
        let name = object.get("name").cloned().unwrap_or_default();
        line.insert(kind.into(), object);
        line.insert(
            "namespace".into(),
            Value::from(namespace.as_str().unwrap_or("")),
        );
        line.insert("name".into(), name);
    }
}

/// The API group and kind a controller reconciles, from its name's prefix.
fn reconciled_kind(controller: &str) -> Option<(&'static str, &'static str)> {
    let prefix = controller.split('.').next().unwrap_or(controller);
    match prefix {
        "nodeclaim" => Some(("karpenter.sh", "NodeClaim")),
        "nodepool" => Some(("karpenter.sh", "NodePool")),
        "node" => Some(("", "Node")),
        "pod" => Some(("", "Pod")),
        "nodeclass" => Some(("karpenter.k8s.aws", "EC2NodeClass")),
        _ => None,
    }
}

/// `{"name": …}` for a cluster-scoped key, `{"namespace": …, "name": …}` for `namespace/name`.
fn object_key(key: &str) -> Value {
    let mut object = Map::new();
    match key.split_once('/') {
        Some((namespace, name)) => {
            object.insert("namespace".into(), Value::from(namespace));
            object.insert("name".into(), Value::from(name));
        }
        None => {
            object.insert("name".into(), Value::from(key));
        }
    }
    Value::Object(object)
}

/// A field as JSON when its text is a JSON object or array (upstream logs resource lists as
/// objects), else as a string.
fn embedded_json(text: String) -> Value {
    let looks_structured = text.starts_with('{') || text.starts_with('[');
    if looks_structured && let Ok(value) = serde_json::from_str::<Value>(&text) {
        return value;
    }
    Value::from(text)
}

/// Installs the upstream-shaped JSON logger on stdout as the process's global subscriber.
pub fn init(level: Level) {
    tracing_subscriber::fmt()
        .with_max_level(level)
        .event_format(UpstreamJson {
            caller: level == Level::DEBUG,
        })
        .init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Captures what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines logged by `log`, parsed.
    fn logged(caller: bool, log: impl FnOnce()) -> Vec<Map<String, Value>> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::DEBUG)
            .event_format(UpstreamJson { caller })
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text =
            String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("utf-8");
        text.lines()
            .map(|line| match serde_json::from_str(line) {
                Ok(Value::Object(map)) => map,
                other => panic!("not a JSON object: {line} ({other:?})"),
            })
            .collect()
    }

    fn keys(line: &Map<String, Value>) -> Vec<&str> {
        line.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_launch_log_has_upstreams_keys_in_upstreams_order() {
        let lines = logged(false, || {
            tracing::info!(
                controller = "nodeclaim.lifecycle",
                NodeClaim = "default-pf29b",
                "provider-id" = "kwok://default-pf29b",
                "instance-type" = "c6a.2xlarge",
                allocatable = r#"{"cpu":"7910m","pods":"58"}"#,
                "launched nodeclaim"
            );
        });
        let [line] = lines.as_slice() else {
            panic!("one line: {lines:?}")
        };
        assert_eq!(
            keys(line),
            [
                "level",
                "time",
                "logger",
                "message",
                "commit",
                "controller",
                "controllerGroup",
                "controllerKind",
                "NodeClaim",
                "namespace",
                "name",
                "provider-id",
                "instance-type",
                "allocatable"
            ]
        );
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["logger"], "controller");
        assert_eq!(line["message"], "launched nodeclaim");
        assert_eq!(line["controllerGroup"], "karpenter.sh");
        assert_eq!(line["controllerKind"], "NodeClaim");
        assert_eq!(
            line["NodeClaim"],
            serde_json::json!({"name": "default-pf29b"})
        );
        assert_eq!(line["namespace"], "");
        assert_eq!(line["name"], "default-pf29b");
        assert_eq!(line["allocatable"]["cpu"], "7910m");
    }

    #[test]
    fn time_is_iso8601_with_milliseconds_in_utc() {
        let time = chrono::DateTime::parse_from_rfc3339("2024-11-08T18:01:15.732456Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let line = render(Level::ERROR, &time, None, Fields::default());
        let line: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(line["time"], "2024-11-08T18:01:15.732Z");
        assert_eq!(line["level"], "ERROR");
    }

    #[test]
    fn singletons_log_an_empty_key_and_pods_a_namespaced_one() {
        let lines = logged(false, || {
            tracing::error!(
                controller = "provisioner",
                Pod = "default/web-1",
                error = "no nodepool",
                "could not schedule pod"
            );
        });
        let line = &lines[0];
        assert_eq!(line["controller"], "provisioner");
        assert!(!line.contains_key("controllerKind"));
        assert_eq!(line["namespace"], "");
        assert_eq!(line["name"], "");
        assert_eq!(
            line["Pod"],
            serde_json::json!({"namespace": "default", "name": "web-1"})
        );
        assert_eq!(line["error"], "no nodepool");
    }

    #[test]
    fn caller_appears_only_when_asked_and_before_the_message() {
        let without = logged(false, || tracing::debug!("deleting expired nodeclaim"));
        assert!(!without[0].contains_key("caller"));
        let with = logged(true, || tracing::debug!("deleting expired nodeclaim"));
        assert_eq!(
            keys(&with[0])[..5],
            ["level", "time", "logger", "caller", "message"]
        );
        let caller = with[0]["caller"].as_str().expect("a string");
        assert!(caller.contains("logging.rs:"), "{caller}");
        assert_eq!(with[0]["level"], "DEBUG");
    }

    #[test]
    fn text_that_only_looks_like_json_stays_a_string() {
        let lines = logged(false, || {
            tracing::info!(duration = "1.2s", bad = "{not json", count = 3, "x");
        });
        assert_eq!(lines[0]["duration"], "1.2s");
        assert_eq!(lines[0]["bad"], "{not json");
        assert_eq!(lines[0]["count"], 3);
    }
}
