#!/usr/bin/env bash
# hiexp's GPU acceptance check (docs/gpu-check.md): builds the CUDA addon against this machine's PyTorch, runs the
# CUDA and NCCL tests, the transformers parity, the GPU kernel benchmark and the end-to-end timings, and writes
# gpu-check.json and gpu-check.md into <out-dir>.
#   scripts/gpu-check.sh <out-dir> [--python <exe>] [--build-dir <dir>] [--budget <s>] [--jobs <n>] [--only <steps>]
# Exit code: 0 every check passed, 1 a check failed, 2 it could not run (no GPU, bad arguments). The last line printed
# is the summary.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() {
  echo "gpu-check: $1" >&2
  echo "gpu-check: FAIL, nothing run: $1"
  exit 2
}
command -v node >/dev/null 2>&1 || fail "node is not on PATH (hiexp needs Node.js >= 20)"
[ -x "$here/node_modules/.bin/tsx" ] || fail "$here/node_modules is not installed: run 'npm ci --ignore-scripts' there first (the check builds the addon itself)"
# Relative paths in the arguments are the caller's: the check runs from the repository root.
export GPU_CHECK_CWD="$PWD"
cd "$here" && exec node --import tsx scripts/gpu/main.ts "$@"
