#!/usr/bin/env bash
# hiexp installed as a user installs it: `npm pack`, then the tarball into a fresh CommonJS project and a fresh ESM
# project. In each: `npx hiexp info`, the package imported (require in CommonJS, import in ESM, import under tsx), and
# a TypeScript file type-checked by the current TypeScript at its default settings (no tsconfig).
# The projects reuse this checkout's addon (HIEXP_ADDON): the native build is what `npm install` of the checkout tests;
# this checks what the package ships, how it resolves and what its types say. Needs only the npm registry.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
addon="$root/build/Release/hiexp.node"
[ -f "$addon" ] || { echo "pack-check: $addon is missing: run npm install in $root first" >&2; exit 1; }
export HIEXP_ADDON="$addon"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "pack-check: $*"; }

step "npm pack"
tarball="$work/$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -1)"
# What the README and the error messages send users to must be in the package.
listing=$(tar -tzf "$tarball")
for f in package/dist/lib/index.js package/dist/lib/index.d.ts package/dist/lib/cli.js package/cjs/index.cjs \
  package/examples/configs/hiexp-grpo.json package/LICENSE package/CHANGELOG.md package/scripts/install.mjs; do
  grep -qx "$f" <<<"$listing" || { echo "pack-check: $f is not in the package" >&2; exit 1; }
done

cat > "$work/check.ts" <<'TS'
import * as hx from 'hiexp'
import type { TrainConfig } from 'hiexp'

const advantages: Float32Array = hx.groupAdvantages(Float32Array.from([1, 0, 1, 1]), { groupSize: 2 })
const config: TrainConfig = { outDir: 'runs/check', algorithm: 'gspo', experience: { enabled: true } }
const parsed = hx.parseTrainConfig(config)
if (Math.abs(advantages[0] - 0.70710677) > 1e-5 || advantages[2] !== 0) throw new Error(`advantages: ${advantages}`)
if (parsed.experience.guidedFraction !== 1) throw new Error('the paper form is the default')
console.log(`typed import ok: ${advantages.length} advantages, algorithm ${parsed.algorithm}`)
TS

for kind in commonjs module; do
  dir="$work/$kind"
  mkdir -p "$dir"
  cd "$dir"
  step "$kind project: npm init, install the tarball, typescript@latest and tsx"
  npm init -y >/dev/null
  npm pkg set type="$kind"
  npm install --no-audit --no-fund --loglevel=error "$tarball" typescript@latest tsx >/dev/null
  step "$kind project: npx hiexp info"
  npx hiexp info
  if [ "$kind" = commonjs ]; then
    node -e "const hx = require('hiexp'); if (typeof hx.groupAdvantages !== 'function') process.exit(1); console.log('require ok')"
  else
    node --input-type=module -e "import * as hx from 'hiexp'; if (typeof hx.groupAdvantages !== 'function') process.exit(1); console.log('import ok')"
  fi
  cp "$work/check.ts" check.ts
  step "$kind project: tsc $(npx tsc --version) --noEmit check.ts (default settings), then tsx check.ts"
  npx tsc --noEmit check.ts
  npx tsx check.ts
done
step "ok"
