#!/bin/sh
# Registers the namespace the sagas run in and the custom search attributes they keep current
# (shared/search-attributes.ts), through the frontend's operator API with the Temporal CLI.
# Idempotent: an existing namespace is kept, an existing attribute of the same type is accepted;
# one of another type is an error. Run by the cluster mode after the server starts
# (harness/temporal-cluster.ts) and by docker-compose.yml's temporal-namespace job.
#
# Environment: TEMPORAL_ADDRESS (the frontend), TEMPORAL_NAMESPACE (default `default`),
# TEMPORAL_CLI (the `temporal` binary; default `temporal` on PATH), NAMESPACE_RETENTION (72h).
set -eu
CLI="${TEMPORAL_CLI:-temporal}"
ADDRESS="${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the Temporal frontend (host:port)}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
T="--address $ADDRESS"

# retry <what> <command...>: the frontend answers before every service of the cluster is up.
retry() {
  what="$1"; shift; n=0
  until out=$("$@" 2>&1); do
    n=$((n + 1))
    case "$out" in *'different type'*) echo "$out" >&2; exit 1 ;; esac
    if [ "$n" -ge 60 ]; then echo "$out" >&2; echo "gave up: $what" >&2; exit 1; fi
    sleep 1
  done
}
ensure_namespace() {
  "$CLI" operator namespace describe --namespace "$NAMESPACE" $T >/dev/null 2>&1 ||
    "$CLI" operator namespace create --namespace "$NAMESPACE" --retention "${NAMESPACE_RETENTION:-72h}" $T
}
create_search_attributes() {
  out=$("$CLI" operator search-attribute create --name SagaStatus --type Keyword --name SagaType --type Keyword --namespace "$NAMESPACE" $T 2>&1) && return 0
  case "$out" in *'already exists'*) return 0 ;; esac
  echo "$out"
  return 1
}
retry "the cluster's health at $ADDRESS" "$CLI" operator cluster health $T
retry "namespace $NAMESPACE" ensure_namespace
retry "search attributes SagaStatus, SagaType" create_search_attributes
# With SQL visibility the attributes live in the namespace record, which the frontend caches for a
# few seconds: wait until a query on them is accepted, so the first upsert does not race the cache.
retry "a visibility query on SagaStatus and SagaType" "$CLI" workflow list --query "SagaStatus = 'probe' AND SagaType = 'probe'" --limit 1 --namespace "$NAMESPACE" $T
echo "Namespace $NAMESPACE and search attributes SagaStatus, SagaType are ready at $ADDRESS"
