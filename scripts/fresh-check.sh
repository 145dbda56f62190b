#!/usr/bin/env bash
# The fresh-machine check: what a newcomer gets from `npm run demo` and `npm test` on a machine that
# never saw the project. It clones HEAD into a new temporary folder (an ordinary path, no build
# output, no node_modules) and runs both there with HOME, the XDG folders and npm's cache pointed at
# empty temporary folders, so neither npm's cache nor pnpm's store or metadata cache, nor turbo's
# cache, nor a helm downloaded earlier can help. System packages (Debian) stay as they are.
#
# usage: scripts/fresh-check.sh [--keep]     (--keep leaves the clone and its caches for a look)
# Takes about as long as `npm test` plus 1-3 minutes of downloads; needs the npm registry.
# Exit status: 0 when the demo printed PASS and npm test passed, 1 otherwise, 2 on bad usage.
# Only committed work is checked: the clone is of HEAD.
set -euo pipefail

KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-check: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

ROOT=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
HEAD=$(git -C "$ROOT" rev-parse HEAD)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
  echo "fresh-check: note: uncommitted changes in $ROOT are not part of the check (it clones HEAD)" >&2
fi

BASE=$(mktemp -d "${TMPDIR:-/tmp}/zt-fresh.XXXXXX")
LOG=$BASE.log
cleanup() {
  if [ "$KEEP" = 1 ]; then
    echo "fresh-check: kept $BASE" >&2
  else
    rm -rf "$BASE"
  fi
}
trap cleanup EXIT

CLONE=$BASE/zt
mkdir -p "$BASE/home" "$BASE/cache" "$BASE/data" "$BASE/config" "$BASE/state" "$BASE/npm-cache"
git clone --quiet "$ROOT" "$CLONE"
git -C "$CLONE" checkout --quiet --detach "$HEAD"
echo "fresh-check: $HEAD in $CLONE; log in $LOG" >&2

# The user's package-manager settings go too (a store path, a cache path, a pnpm home), apart from
# the ones that say how to reach the registry at all; so do the variables that hand the tests
# something prepared (a helm binary, a built image tree). ZT_LONG and CI carry over.
keep_re='^npm_config_(registry|proxy|https_proxy|noproxy|strict_ssl|cafile)$'
unset_args=(-u ZT_HELM -u ZT_DEPLOY_TREE)
while IFS='=' read -r name _; do
  case "$name" in
    npm_config_* | NPM_CONFIG_* | pnpm_config_* | PNPM_HOME | COREPACK_* | TURBO_*)
      [[ "${name,,}" =~ $keep_re ]] || unset_args+=(-u "$name") ;;
  esac
done < <(env)

run_fresh() {
  (cd "$CLONE" && env "${unset_args[@]}" \
    HOME="$BASE/home" \
    XDG_CACHE_HOME="$BASE/cache" \
    XDG_DATA_HOME="$BASE/data" \
    XDG_CONFIG_HOME="$BASE/config" \
    XDG_STATE_HOME="$BASE/state" \
    npm_config_cache="$BASE/npm-cache" \
    "$@")
}

started=$SECONDS
# The demo first: it sets up from nothing the way a newcomer's first command does.
set +e
run_fresh npm run demo -- --duration 10 2>&1 | tee "$LOG"
demo_status=${PIPESTATUS[0]}
set -e
demo=FAIL
if [ "$demo_status" = 0 ] && grep -q '^PASS: ' "$LOG"; then demo=PASS; fi
echo "fresh-check: demo $demo ($((SECONDS - started)) s)" >&2

tests_started=$SECONDS
set +e
run_fresh npm test 2>&1 | tee -a "$LOG"
test_status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOG" | tail -n 1 || true)
echo "fresh-check: demo $demo; npm test exit $test_status ($((SECONDS - tests_started)) s); $((SECONDS - started)) s in all; log $LOG"
# Last, as npm test ends: the line CI and people read.
echo "${summary:-0 passed, 1 failed}"
[ "$demo" = PASS ] && [ "$test_status" = 0 ]
