#!/usr/bin/env bash
# joist-core must be a pure decision library (ARCHITECTURE.md "Layout"): fail if any crate it depends on at run time
# is an async runtime, Kubernetes or AWS client, logging or HTTP crate.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|tokio-[a-z-]+|async-[a-z-]+|futures|kube|kube-[a-z-]+|k8s-openapi|aws-[a-z-]+|tracing|tracing-[a-z-]+|log|reqwest|hyper|hyper-[a-z-]+|rand|getrandom)$'
deps=$(cargo tree -p joist-core -e normal --prefix none --format '{p}' --locked | awk '{print $1}' | sort -u)
bad=$(grep -E "$forbidden" <<<"$deps" || true)
if [ -n "$bad" ]; then
  echo "joist-core depends on crates it must not use:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "ok: joist-core depends on $(wc -l <<<"$deps") crates, none forbidden"
