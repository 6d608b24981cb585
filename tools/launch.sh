#!/usr/bin/env bash
# torchrun-style launch of one node of a pipeshard job. Run it on every node, the same command
# but --node-rank:
#
#   export PIPESHARD_JOB_TOKEN=<the same secret on every node>   # e.g. $(openssl rand -hex 16)
#   tools/launch.sh --nnodes 2 --node-rank 0 --nproc-per-node 4 \
#       --master-addr node0.example --master-port 29500 \
#       -- pipeshard worker --plan plan.json --input requests.jsonl --output results.jsonl
#
# Node R runs global ranks R*K .. R*K+K-1 of WORLD_SIZE = N*K (torchrun's rule), so the plan must
# put ranks there: rank = replica * stages + stage, on its stage's node. Every worker gets
# torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR,
# MASTER_PORT) and PIPESHARD_JOB_TOKEN; rank 0 (on node 0) hosts the rendezvous store at
# MASTER_ADDR:MASTER_PORT. A job over several nodes requires PIPESHARD_JOB_TOKEN: no node can make
# up the secret the others must present. Log lines come out prefixed "[rank N]"; when a worker
# fails, this node's others are stopped (SIGTERM, --grace-seconds, then SIGKILL) and the exit
# status names it (see runtime/launch/launcher.h). Workers on the other nodes then fail at their
# next wait on the lost rank (their --timeout-seconds) and their launchers stop in turn.
#
# Flags take "--flag value" or "--flag=value"; torchrun's spellings (--nproc_per_node, ...) work.
# A worker command starting with `pipeshard` runs the same pipeshard binary as the launcher:
# $PIPESHARD_BIN, else build/bin/pipeshard next to this script's repository, else `pipeshard` on PATH.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: tools/launch.sh --nnodes N --node-rank R --nproc-per-node K --master-addr HOST
                       --master-port PORT [--grace-seconds S] -- <worker command...>
  --nnodes N            number of nodes (default 1)
  --node-rank R         this node's index, 0..N-1 (default 0)
  --nproc-per-node K    workers on each node (default 1)
  --master-addr HOST    node 0's address, reachable from every node (required when N > 1)
  --master-port PORT    port of rank 0's rendezvous store (default 29500)
  --grace-seconds S     after SIGTERM, how long workers get before SIGKILL (default 5)
  --                    then the worker command, e.g. pipeshard worker --plan plan.json ...
Set the same PIPESHARD_JOB_TOKEN on every node when N > 1.
EOF
  exit 2
}

die() {
  echo "launch.sh: $*" >&2
  usage
}

args=()
while [[ $# -gt 0 ]]; do
  arg=$1
  shift
  case "$arg" in
    --) break ;;
    -h | --help) usage ;;
    --*=*) name=${arg%%=*} value=${arg#*=} ;;
    --*)
      name=$arg
      [[ $# -gt 0 ]] || die "option $name needs a value"
      value=$1
      shift
      ;;
    *) die "unexpected argument '$arg' (the worker command goes after --)" ;;
  esac
  case "${name//_/-}" in
    --nnodes | --node-rank | --nproc-per-node | --master-addr | --master-port | --grace-seconds)
      args+=("${name//_/-}" "$value") ;;
    *) die "unknown option $name" ;;
  esac
done
[[ $# -gt 0 ]] || die "no worker command after --"

if [[ -n "${PIPESHARD_BIN:-}" ]]; then
  bin=$PIPESHARD_BIN
elif [[ -x "$(dirname "${BASH_SOURCE[0]}")/../build/bin/pipeshard" ]]; then
  bin=$(cd "$(dirname "${BASH_SOURCE[0]}")/../build/bin" && pwd)/pipeshard
elif command -v pipeshard > /dev/null; then
  bin=$(command -v pipeshard)
else
  echo "launch.sh: cannot find pipeshard: set PIPESHARD_BIN, build it (tools/build.sh) or put it on PATH" >&2
  exit 2
fi
[[ -x "$bin" ]] || { echo "launch.sh: PIPESHARD_BIN=$bin is not an executable file" >&2; exit 2; }

# ${args[@]+...}: an empty array under `set -u` is an error in bash before 4.4.
exec "$bin" launch ${args[@]+"${args[@]}"} -- "$@"
