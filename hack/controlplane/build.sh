#!/usr/bin/env bash
# Builds, once per version, the real Kubernetes binaries that joist's end-to-end tests
# run against, from the Go module proxy with the machine's Go toolchain, and prints
# where each one is.
#
#   hack/controlplane/build.sh [NAME...]     NAME: etcd kube-apiserver
#                                            kube-controller-manager kube-scheduler kwok helm
#                                            (default: all of them)
#
# stdout: one line `NAME=PATH` per requested binary, in the order asked; progress goes to
# stderr. Exit 0 only when every requested binary exists.
#
# Binaries are cached as $JOIST_BIN_DIR/NAME-VERSION (default ~/.cache/joist/bin), the
# version being read from the go.mod files next to this script, so bumping a pin in a
# go.mod rebuilds that binary and a warm run does nothing but print. Concurrent runs are
# serialised by a lock file, and each binary is written under a temporary name and then
# renamed, so a reader never sees a half-written binary.
#
# Environment:
#   JOIST_BIN_DIR     cache directory (default ${XDG_CACHE_HOME:-~/.cache}/joist/bin)
#   JOIST_BUILD_JOBS  `go build -p` (default 1: the machine is usually shared)
#   GOMAXPROCS        default 2
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="${JOIST_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/joist/bin}"

# name | module directory (relative to here) | package to build | module whose version keys the cache
components=(
  "etcd|.|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3"
  "kube-apiserver|.|k8s.io/kubernetes/cmd/kube-apiserver|k8s.io/kubernetes"
  "kube-controller-manager|.|k8s.io/kubernetes/cmd/kube-controller-manager|k8s.io/kubernetes"
  "kube-scheduler|.|k8s.io/kubernetes/cmd/kube-scheduler|k8s.io/kubernetes"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|sigs.k8s.io/kwok"
  "helm|helm|helm.sh/helm/v4/cmd/helm|helm.sh/helm/v4"
)

die() {
  echo "build.sh: $*" >&2
  exit 1
}

# The version a go.mod requires for a module: the single source of truth for the pins.
required_version() {
  local gomod="$1" module="$2" version
  version="$(awk -v m="$module" '$1 == m && $2 ~ /^v[0-9]/ { print $2; exit }' "$gomod")"
  [[ -n "$version" ]] || die "$gomod does not require $module"
  echo "$version"
}

# The component line for a name.
component() {
  local name="$1" entry
  for entry in "${components[@]}"; do
    if [[ "${entry%%|*}" == "$name" ]]; then
      echo "$entry"
      return 0
    fi
  done
  die "unknown binary '$name' (known: etcd kube-apiserver kube-controller-manager kube-scheduler kwok helm)"
}

# Version stamps that upstream's release builds set; without them kube-apiserver reports
# v0.0.0 on /version, which breaks helm's kubeVersion checks and version-skew logic.
ldflags_for() {
  local name="$1" version="$2"
  local flags="-s -w"
  case "$name" in
    kube-*)
      local major minor
      major="$(echo "${version#v}" | cut -d. -f1)"
      minor="$(echo "${version#v}" | cut -d. -f2)"
      local pkg
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=${major}"
        flags+=" -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean"
      done
      ;;
    helm) flags+=" -X helm.sh/helm/v4/internal/version.version=${version}" ;;
  esac
  echo "$flags"
}

build_one() {
  local name="$1" dir="$2" pkg="$3" version="$4" target="$5"
  command -v go >/dev/null || die "go is not installed; it is needed to build $name"
  local tmp="${target}.tmp.$$"
  local started=$SECONDS
  echo "build.sh: building $name $version ($pkg) ..." >&2
  # GOTOOLCHAIN=local: never fetch another Go toolchain; a too-old Go fails with its own message.
  if ! (cd "$here/$dir" &&
    GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
      GOMAXPROCS="${GOMAXPROCS:-2}" \
      go build -p "${JOIST_BUILD_JOBS:-1}" -trimpath \
      -ldflags "$(ldflags_for "$name" "$version")" -o "$tmp" "$pkg"); then
    rm -f "$tmp"
    die "go build of $name $version failed (see the output above)"
  fi
  mv -f "$tmp" "$target"
  echo "build.sh: built $name $version in $((SECONDS - started))s -> $target" >&2
}

main() {
  local names=("$@")
  if [[ ${#names[@]} -eq 0 ]]; then
    local entry
    for entry in "${components[@]}"; do names+=("${entry%%|*}"); done
  fi

  # Resolve every name before building anything, so a typo fails fast.
  local -a lines=() paths=()
  local name
  for name in "${names[@]}"; do
    local line dir module version
    line="$(component "$name")"
    IFS='|' read -r _ dir _ module <<<"$line"
    version="$(required_version "$here/$dir/go.mod" "$module")"
    lines+=("$line|$version")
    paths+=("$bin_dir/$name-$version")
  done

  local missing=0 path
  for path in "${paths[@]}"; do [[ -x "$path" ]] || missing=1; done

  if [[ $missing -eq 1 ]]; then
    mkdir -p "$bin_dir"
    exec 9>"$bin_dir/.build.lock"
    flock 9
    # Another run may have built some of them while this one waited for the lock.
    local i
    for i in "${!lines[@]}"; do
      [[ -x "${paths[$i]}" ]] && continue
      local n d p v
      IFS='|' read -r n d p _ v <<<"${lines[$i]}"
      build_one "$n" "$d" "$p" "$v" "${paths[$i]}"
    done
    flock -u 9
  fi

  local i
  for i in "${!names[@]}"; do
    echo "${names[$i]}=${paths[$i]}"
  done
}

main "$@"
