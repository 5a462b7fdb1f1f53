# Sourced (not run) by the scripts that build a Go program from source into the cache outside the
# clone: scripts/temporal-cli.sh, temporal-cluster-bin.sh, ensure-nats.sh and floor-go.sh. Nothing
# here downloads a prebuilt binary; `go install` and `go build` fetch sources through the Go module
# proxy.
#
# SAGA_CACHE_ROOT: the cache, ${SAGA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/saga-orchestrator}.
# Each program has its own folder under it (named by the calling script; builds already there are
# found again, so a folder's name never changes without a reason).

SAGA_CACHE_ROOT="${SAGA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/saga-orchestrator}"

# go_find: succeeds when `go` runs, first adding /usr/local/go/bin or /usr/lib/go/bin (the upstream
# tarball's place and Debian's golang package's) to PATH when it is not already on it. The caller
# says what is missing and how to get it when it fails.
go_find() {
  if ! command -v go >/dev/null 2>&1; then
    local candidate
    for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
      if [ -x "$candidate" ]; then PATH="$(dirname "$candidate"):$PATH"; break; fi
    done
  fi
  command -v go >/dev/null 2>&1
}

# go_build_once <what> <dir> <bin> <command...>: builds <dir>/<bin> with <command> (its output goes to
# stderr), at most once at a time: dev, tests, CI and jest workers may ask together, and the ones
# that wait for the lock (<dir>/.build.lock) find the binary built. Prints nothing on stdout; fails
# when the build did not produce an executable <dir>/<bin>.
go_build_once() {
  local what="$1" dir="$2" bin="$3"
  shift 3
  mkdir -p "$dir"
  (
    if ! flock -n 9; then
      echo "Waiting for another process's build of $what into $dir..." >&2
      flock 9
    fi
    if [ ! -x "$dir/$bin" ]; then
      echo "Building $what into $dir (first time only; it can take a few minutes)..." >&2
      "$@" >&2
    fi
  ) 9>"$dir/.build.lock"
  if [ ! -x "$dir/$bin" ]; then
    echo "The build of $what finished without producing $dir/$bin" >&2
    return 1
  fi
}

# go_install_into <dir> <package@version>: `go install` of one command into <dir> (GOBIN), with
# module mode on whatever the current folder holds.
go_install_into() {
  GOBIN="$1" GOFLAGS=-mod=mod go install "$2"
}
