#!/usr/bin/env bash
# hiexp installed as a user installs it: `npm pack`, then the tarball into a fresh CommonJS project and a fresh ESM
# project. In each: `npx hiexp info`, the package imported (require in CommonJS, import in ESM, import under tsx), and
# a TypeScript file type-checked by the current TypeScript at its default settings (no tsconfig). In the ESM project
# also: every README example type-checked at `tsc --init`'s settings (noUncheckedIndexedAccess, …), and a tiny HiExp
# run through the installed CLI with the TensorBoard logger, whose `done` line and `hiexp eval` show EM with the HEK.
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
  package/examples/configs/hiexp-grpo.json package/LICENSE package/CHANGELOG.md package/scripts/install.mjs \
  package/schema/train-config.schema.json; do
  grep -qx "$f" <<<"$listing" || { echo "pack-check: $f is not in the package" >&2; exit 1; }
done
# Every relative link of the README (docs, images) is shipped; nothing ships that imports unshipped folders.
for f in $(grep -oE '\]\((docs|examples|schema)/[^)#]+' "$root/README.md" | sed 's/^](//' | sort -u); do
  grep -qx "package/$f" <<<"$listing" || { echo "pack-check: README links $f, which is not in the package" >&2; exit 1; }
done
if grep -E '^package/(scripts/gpu|bench/|test/)' <<<"$listing"; then echo "pack-check: the files above cannot run from the package" >&2; exit 1; fi

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
  if [ "$kind" = module ]; then
    step "module project: README examples type-checked at tsc --init's settings"
    mkdir readme && cd readme
    npx tsc --init >/dev/null
    node "$root/scripts/readme-examples.mjs" "$root/README.md" .
    npx tsc -p . --noEmit
    cd ..
    step "module project: a tiny HiExp run with the TensorBoard logger, then hiexp eval"
    cat > hek.mts <<'TS'
import * as hx from 'hiexp'
const advice = ['Search the first entity named in the question before anything else', 'Do not answer before any search', 'Search each hop of the chain in order']
const hek = await hx.HierarchicalExperience.build(advice.map((text, i) => ({ id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 5, successRate: 0.8, sources: [] })))
hek.save('given-hek.json')
TS
    npx tsx hek.mts
    cat > tiny.json <<'JSON'
{
  "$schema": "./node_modules/hiexp/schema/train-config.schema.json",
  "outDir": "runs/tiny", "seed": 3, "steps": 2, "questionsPerStep": 2, "groupSize": 3, "checkpointEvery": 1,
  "task": { "world": { "countries": 2, "cities": 4, "people": 8, "organisations": 2, "films": 2, "books": 2, "questionsPerHop": 12, "hops": [1, 2] } },
  "policy": { "tiny": { "hiddenSize": 32, "intermediateSize": 64, "numLayers": 1, "numHeads": 2, "numKvHeads": 1 } },
  "rollout": { "topk": 2, "maxTurns": 3, "maxTurnTokens": 12, "maxTotalTokens": 320, "maxInfoTokens": 96 },
  "warmStart": { "steps": 2, "batchSize": 4, "lr": 0.001 }, "validation": { "every": 1, "questions": 4 },
  "logger": ["jsonl", "tensorboard"],
  "experience": { "enabled": true, "hekFile": "given-hek.json", "tokenBudget": 64 }
}
JSON
    npx hiexp train -c tiny.json 2>train.err | tee train.out
    grep -q 'validation EM [0-9.]* F1 [0-9.]* · EM with HEK [0-9.]*' train.out || { echo "pack-check: the done line lacks EM with HEK" >&2; cat train.err >&2; exit 1; }
    grep -q 'step 2: validation EM .* · EM with HEK' train.err || { echo "pack-check: no validation line with EM with HEK" >&2; cat train.err >&2; exit 1; }
    ls runs/tiny/tensorboard/events.out.tfevents.* runs/tiny/training.png
    node --input-type=module -e "
import * as hx from 'hiexp'
import { readdirSync } from 'node:fs'
const dir = 'runs/tiny/tensorboard'
const events = hx.readEventFile(dir + '/' + readdirSync(dir)[0])
const tags = new Set(events.flatMap((e) => e.summary?.value.map((v) => v.tag) ?? []))
for (const tag of ['rl/rewardMean', 'validation/em', 'validation/emWithExperience']) if (!tags.has(tag)) throw new Error('no ' + tag + ' in the event file')
console.log('tensorboard ok: ' + events.length + ' events')"
    npx hiexp eval -o runs/tiny --limit 4 --json > eval.json
    node -e "const e = require('./eval.json'); if (typeof e.em !== 'number' || typeof e.withHek?.em !== 'number') process.exit(1); console.log('eval ok: EM', e.em, 'EM with HEK', e.withHek.em)"
  fi
done
step "ok"
