#!/usr/bin/env node
// The `hiexp` command: train, evaluate, benchmark and report. Each subcommand is a thin shell over the library.
import { Command, InvalidArgumentError } from 'commander'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { benchKernels, kernelTable, writeKernelReport } from './experiments/kernel_bench.js'
import { LAUNCH_USAGE, launchMain } from './distributed/launch_cli.js'
import { info } from './native/info.js'
import { packageRoot } from './native/loader.js'
import { loadCorpusJsonl } from './env/corpus.js'
import { generateWorld } from './env/world.js'
import { Bm25Retriever } from './search/bm25.js'
import { startRetrievalServer } from './search/server.js'
import { evaluationTable } from './cli_format.js'
import { CHECKPOINT_DIR } from './train/task.js'
import { COMMIT_FILE, RUN_CONFIG_FILE } from './train/run_dir.js'
import { readMetrics, type ValidationMetrics } from './report/metrics.js'
import { plotTraining } from './report/training_plot.js'
import { DISTILLERS, loadTrainConfig, parseTrainConfig } from './train/config.js'
import { Trainer, validationSummary } from './train/trainer.js'
import { compare, METHODS, type Method } from './experiments/compare.js'
import { ContrastiveAnalyzer } from './experience/analyzer.js'
import { HierarchicalExperience } from './experience/hek.js'
import { llmDistiller } from './experience/llm.js'
import { formatHek, writeHekPictures } from './experience/show.js'
import { TrajectoryStore } from './experience/store.js'
import { ExperienceSchema, groupTrajectories } from './experience/types.js'
import { writeFileAtomic } from './util/atomic.js'
import { parseIntegerArg, parseIntegerListArg, type IntegerRange } from './util/integer_args.js'
import { readJsonFileSync } from './util/json_file.js'

function fail(message: string): never {
  throw new InvalidArgumentError(message)
}

/** A commander parser for an integer option in range (lib/util/integer_args.ts; its error becomes commander's). */
function integer(name: string, range: IntegerRange = {}): (value: string) => number {
  return (value) => asOptionError(() => parseIntegerArg(value, name, range))
}
function asOptionError<T>(parse: () => T): T {
  try {
    return parse()
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message)
  }
}
const SEED_RANGE: IntegerRange = { min: 0, max: 2 ** 32 - 1 }

function configFrom(opts: { config?: string; out?: string; steps?: number }) {
  const config = opts.config ? loadTrainConfig(opts.config) : parseTrainConfig({})
  if (opts.out !== undefined) config.outDir = opts.out
  if (opts.steps !== undefined) config.steps = opts.steps
  return config
}

/** The package's version (package.json beside lib/ or dist/lib/). */
function version(): string {
  return (readJsonFileSync(join(packageRoot(), 'package.json')) as { version: string }).version
}

/** The last validation row of a run's metrics.jsonl (a finished run rerun has nothing new to report). */
function lastValidation(metricsFile: string): ValidationMetrics | undefined {
  return readMetrics(metricsFile).filter((r): r is ValidationMetrics => r.phase === 'validation' && typeof r.em === 'number').at(-1)
}

const program = new Command()
  .name('hiexp')
  .description('RL for LLM search agents guided by Hierarchical Experience (HiExp)')
  .version(version(), '-V, --version', 'the hiexp version')
  .showHelpAfterError()

program
  .command('info')
  .description('what the native addon was built with and the devices it sees')
  .action(() => console.log(JSON.stringify(info(), null, 2)))

program
  .command('train')
  .description('warm start then GRPO/GSPO (with HiExp when the config enables it); resumes from --out')
  .option('-c, --config <file>', 'run configuration (.json, .yaml)')
  .option('-o, --out <dir>', 'output folder (overrides the config)')
  .option('--steps <n>', 'RL steps (overrides the config)', integer('--steps', { min: 0 }))
  .option('--resume-with-new-config', 'continue the run in --out although its config.json differs (the changes are printed)')
  .action(async (opts) => {
    const trainer = await Trainer.create(configFrom(opts), { resumeWithNewConfig: opts.resumeWithNewConfig === true })
    const started = Date.now()
    const { validation, plot } = await trainer.run()
    const metrics = join(trainer.config.outDir, 'metrics.jsonl')
    const last = validation.at(-1) ?? lastValidation(metrics)
    const em = last ? `validation ${validationSummary(last)} (step ${last.step})` : 'no validation yet'
    const what = validation.length > 0 ? `done in ${((Date.now() - started) / 1000).toFixed(0)} s` : `already complete at step ${trainer.step} (nothing to do)`
    console.log(`${what}: ${em}; metrics ${metrics}${plot ? `; curves ${plot.png}` : ''}`)
  })

program
  .command('eval')
  .description('greedy evaluation of a run (its checkpoint) on the test split: EM, F1, search calls, by hop count')
  .option('-c, --config <file>', "the run configuration (default: the run folder's config.json)")
  .option('-o, --out <dir>', 'the run folder holding checkpoint/')
  .option('--split <name>', 'test | validation | train', 'test')
  .option('--limit <n>', 'at most this many questions', integer('--limit', { min: 1 }))
  .option('--json', 'print the evaluation as JSON instead of a table')
  .option('--hek', "also evaluate with the run's HEK at both injection points (HiExp's own number; the default for HiExp runs)")
  .option('--no-hek', 'evaluate without the HEK only')
  .action(async (opts) => {
    const split = opts.split as 'test' | 'validation' | 'train'
    if (!['test', 'validation', 'train'].includes(split)) throw new InvalidArgumentError(`--split must be test, validation or train`)
    // The run's own configuration unless one is given (which must then be the run's: Trainer.create checks).
    const own = opts.out !== undefined && opts.config === undefined ? join(opts.out, RUN_CONFIG_FILE) : undefined
    const config = configFrom({ ...opts, config: own && existsSync(own) ? own : opts.config })
    // Only a trained run is evaluated: anything else would score an untrained policy and leave files behind.
    const ckpt = join(config.outDir, CHECKPOINT_DIR)
    for (const needed of [join(ckpt, 'hiexp_trainer.json'), join(ckpt, COMMIT_FILE)]) {
      if (!existsSync(needed)) {
        fail(`eval: ${resolve(config.outDir)} holds no trained run (${needed} is missing): train one first (hiexp train -o ${config.outDir}) or point -o at a run folder`)
      }
    }
    // --hek: with the HEK too (default for HiExp runs); --no-hek: without only.
    const withHek = opts.hek ?? config.experience.enabled
    if (withHek && !config.experience.enabled) fail('eval: --hek needs a HiExp run (experience.enabled in its config.json): this run has no HEK')
    const trainer = await Trainer.create(config)
    const examples = trainer.task[split].slice(0, opts.limit ?? undefined)
    const result = withHek ? await trainer.evaluateRun(examples) : { withoutHek: await trainer.evaluate(examples) }
    if (opts.json) {
      // The evaluation without the HEK at the top level (as before), HiExp's own number under withHek.
      console.log(JSON.stringify({ ...result.withoutHek, ...(result.withHek && { withHek: result.withHek }) }, null, 2))
    } else {
      const head = `${split} split, ${examples.length} questions, step ${trainer.step} of ${config.outDir}`
      const tables = [`EM without the HEK:\n${evaluationTable(result.withoutHek)}`]
      if (result.withHek) tables.push(`EM with the HEK (HiExp's number: the run's HEK at both injection points):\n${evaluationTable(result.withHek)}`)
      console.log(`${head}\n\n${tables.join('\n\n')}`)
    }
  })

program
  .command('compare')
  .description('GRPO (± dynamic sampling), GSPO, HiExp-GRPO / -GSPO and its controls from one warm start per seed, same budget: report.md + plots')
  .option('-c, --config <file>', 'base run configuration shared by every method')
  .option('-o, --out <dir>', 'output folder', 'runs/compare')
  .option('--seeds <list>', 'comma-separated seeds', '0,1,2')
  .option('--steps <n>', 'RL steps per method (overrides the config)', integer('--steps', { min: 0 }))
  .option('--methods <list>', `comma-separated subset of ${METHODS.join(', ')}`, METHODS.join(','))
  .option('--hek <file>', "HiExp methods use this HEK instead of building one ('{seed}' becomes the seed): e.g. one built on another task")
  .option('--distiller <kind>', `who distils the HEK built per seed: ${DISTILLERS.join(' | ')} (overrides the config)`)
  .option('--probe', 'also probe each warm start on validation (no advice, oracle advice, the HEK, the shuffled HEK; pass@8)')
  .option('--probe-only', 'the go/no-go alone: warm starts, HEKs and probes on validation, no RL, no test scores')
  .option('--shared-warm-start <dir>', 'every seed starts from this finished warm-start folder (the config must set task.world.seed)')
  .action(async (opts) => {
    const base = opts.config ? loadTrainConfig(opts.config) : parseTrainConfig({})
    if (opts.steps !== undefined) base.steps = opts.steps
    if (opts.hek !== undefined) base.experience.hekFile = opts.hek
    if (opts.distiller !== undefined) {
      if (!(DISTILLERS as readonly string[]).includes(opts.distiller)) {
        throw new InvalidArgumentError(`--distiller must be ${DISTILLERS.slice(0, -1).join(', ')} or ${DISTILLERS.at(-1)}, got '${opts.distiller}'`)
      }
      base.experience.distiller = opts.distiller
      parseTrainConfig(base) // the 'llm' distiller needs experience.llm: named here, before any training
    }
    const methods = String(opts.methods).split(',') as Method[]
    for (const m of methods) if (!METHODS.includes(m)) throw new InvalidArgumentError(`unknown method '${m}' (known: ${METHODS.join(', ')})`)
    const twice = methods.find((m, i) => methods.indexOf(m) !== i)
    if (twice) throw new InvalidArgumentError(`--methods repeats ${twice}: each method once`)
    const seeds = asOptionError(() => parseIntegerListArg(opts.seeds, '--seeds', SEED_RANGE))
    const started = Date.now()
    const results = await compare({ outDir: opts.out, seeds, methods, base, probe: Boolean(opts.probe), probeOnly: Boolean(opts.probeOnly), ...(opts.sharedWarmStart !== undefined && { sharedWarmStart: opts.sharedWarmStart }) })
    console.log(`${results.length} runs in ${((Date.now() - started) / 60000).toFixed(1)} min: ${join(opts.out, 'report.md')}`)
  })

function distillerFromOptions(opts: { distiller: string; baseUrl?: string; model?: string }) {
  if (opts.distiller === 'offline') return new ContrastiveAnalyzer()
  if (opts.distiller !== 'llm') throw new InvalidArgumentError(`--distiller must be offline or llm, got '${opts.distiller}'`)
  return llmDistiller({
    baseURL: opts.baseUrl ?? fail('--base-url is required with --distiller llm'),
    model: opts.model ?? fail('--model is required with --distiller llm'),
  })
}

async function distillFile(opts: { trajectories: string; distiller: string; baseUrl?: string; model?: string }) {
  // A missing or empty file must not become an empty experiences file written over a good one.
  if (!existsSync(opts.trajectories)) fail(`cannot read the trajectories file ${opts.trajectories}: no such file (nothing was written)`)
  const records = new TrajectoryStore(opts.trajectories).read()
  if (records.length === 0) fail(`the trajectories file ${opts.trajectories} holds no trajectory: nothing to distill (nothing was written)`)
  const experiences = await distillerFromOptions(opts).distill(groupTrajectories(records))
  return { records, experiences }
}

program
  .command('distill')
  .description('contrast the successful and failed rollouts of each question in a trajectory file into experiences (JSON)')
  .requiredOption('-t, --trajectories <file>', 'trajectories.jsonl written by a run')
  .option('-o, --out <file>', 'experiences file', 'experiences.json')
  .option('--distiller <kind>', 'offline | llm', 'offline')
  .option('--base-url <url>', "OpenAI-compatible endpoint of the 'llm' distiller")
  .option('--model <name>', "model of the 'llm' distiller")
  .action(async (opts) => {
    const { records, experiences } = await distillFile(opts)
    writeFileAtomic(opts.out, JSON.stringify(experiences, null, 2))
    console.log(`${experiences.length} experiences from ${records.length} trajectories -> ${opts.out}`)
  })

program
  .command('build-hek')
  .description('cluster experiences into a HEK (JSON + pictures), from a trajectory file (distilling first) or an experiences file')
  .option('-t, --trajectories <file>', 'trajectories.jsonl written by a run')
  .option('-e, --experiences <file>', 'experiences.json written by hiexp distill')
  .option('-o, --out <file>', 'HEK file', 'hek.json')
  .option('--distiller <kind>', 'offline | llm (with --trajectories)', 'offline')
  .option('--base-url <url>', "OpenAI-compatible endpoint of the 'llm' distiller")
  .option('--model <name>', "model of the 'llm' distiller")
  .action(async (opts) => {
    if (Boolean(opts.trajectories) === Boolean(opts.experiences)) throw new InvalidArgumentError('give exactly one of --trajectories or --experiences')
    const experiences = opts.experiences
      ? ExperienceSchema.array().parse(JSON.parse(readFileSync(opts.experiences, 'utf8')))
      : (await distillFile(opts)).experiences
    const hek = await HierarchicalExperience.build(experiences)
    hek.save(opts.out)
    const pictures = writeHekPictures(hek, opts.out.replace(/\.json$/, ''))
    console.log(`HEK of ${experiences.length} experiences -> ${opts.out} (${pictures.join(', ')})`)
  })

program
  .command('hek')
  .description('inspect a HEK file')
  .command('show')
  .argument('<file>', 'HEK JSON file')
  .action(async (file: string) => console.log(formatHek(await HierarchicalExperience.load(file))))

program
  .command('report')
  .description('training curves (SVG + PNG) from one or more runs: NAME=metrics.jsonl …')
  .argument('<runs...>', 'name=path/to/metrics.jsonl')
  .option('-o, --out <base>', 'output path without extension', 'training')
  .action(async (runs: string[], opts) => {
    const parsed = runs.map((r) => {
      const at = r.indexOf('=')
      if (at <= 0) throw new InvalidArgumentError(`expected NAME=metrics.jsonl, got '${r}'`)
      return { name: r.slice(0, at), metricsFile: r.slice(at + 1) }
    })
    const files = await plotTraining(parsed, opts.out)
    for (const run of parsed) {
      const last = lastValidation(run.metricsFile)
      if (last) console.log(`${run.name}: validation ${validationSummary(last)} (step ${last.step})`)
    }
    console.log(`wrote ${files.svg} and ${files.png}`)
  })

program
  .command('bench')
  .description('kernel benchmarks (policy loss, advantages): a table, JSON and a chart')
  .option('--quick', 'two sizes only')
  .option('-o, --out <dir>', "where the JSON, table and chart go (default: bench/results of a hiexp checkout, else ./hiexp-bench)")
  .action(async (opts) => {
    const out = (opts.out as string | undefined) ?? defaultBenchDir()
    const result = await benchKernels({ quick: Boolean(opts.quick), log: (line) => console.error(line) })
    console.log(kernelTable(result))
    console.error(`wrote ${(await writeKernelReport(result, out)).join(', ')}`)
  })

/** bench/results of the checkout when run from one; installed as a dependency, a folder of the current directory. */
function defaultBenchDir(): string {
  const root = packageRoot()
  return /[\\/]node_modules[\\/]/.test(root) ? 'hiexp-bench' : join(root, 'bench', 'results')
}

program
  .command('serve-retrieval')
  .description("a BM25 retrieval server with Search-R1's API (POST /retrieve {queries, topk, return_scores}) for task.retrieverUrl")
  .option('--corpus <file>', 'corpus JSONL ({"id","contents"} per line)')
  .option('--index <file>', 'a BM25 index written by --save-index')
  .option('--world <seed>', 'serve the generated world of this seed (the default when no corpus or index is given: seed 0)', integer('--world', SEED_RANGE))
  .option('--save-index <file>', 'write the BM25 index here before serving')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--port <port>', 'port (0: any free port)', integer('--port', { min: 0, max: 65535 }), 8000)
  .option('--max-queries <n>', 'most queries in one request', integer('--max-queries', { min: 1 }))
  .option('--max-query-chars <n>', 'longest query, in characters', integer('--max-query-chars', { min: 1 }))
  .action(async (opts) => {
    if (opts.corpus && opts.index) fail('give one of --corpus or --index')
    const retriever = opts.index
      ? await Bm25Retriever.load(opts.index)
      : Bm25Retriever.build(opts.corpus ? await loadCorpusJsonl(opts.corpus) : generateWorld({ seed: opts.world ?? 0 }).corpus)
    if (opts.saveIndex) await retriever.save(opts.saveIndex)
    const server = await startRetrievalServer({
      retriever,
      host: opts.host,
      port: opts.port,
      ...(opts.maxQueries !== undefined ? { maxQueries: opts.maxQueries } : {}),
      ...(opts.maxQueryChars !== undefined ? { maxQueryChars: opts.maxQueryChars } : {}),
    })
    console.log(`listening on ${server.url} (${retriever.size} passages)`)
    const stop = () => void server.close().then(() => process.exit(0))
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })

program
  .command('launch')
  .description('run a command as N data-parallel ranks (torchrun conventions): launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- <command…>')
  .allowUnknownOption()

// launch takes everything after it verbatim (its own flags, then `--` and the command), which commander would parse;
// its own help is answered here (a --help after `--` belongs to the launched command).
function launchHelpAsked(args: string[]): boolean {
  const own = args.includes('--') ? args.slice(0, args.indexOf('--')) : args
  return own.length === 0 || own.includes('--help') || own.includes('-h')
}
const LAUNCH_HELP = `${LAUNCH_USAGE}

Starts --nproc copies of the command with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
GROUP_RANK, MASTER_ADDR, MASTER_PORT), prefixes their output with [rank R], and when one rank fails stops the others
and exits with its code. Example: hiexp launch --nproc 2 -- npx hiexp train -c run.json`
const launchArgs = process.argv.slice(3)
const main =
  process.argv[2] !== 'launch'
    ? program.parseAsync()
    : launchHelpAsked(launchArgs)
      ? Promise.resolve(void console.log(LAUNCH_HELP))
      : launchMain(launchArgs).then((code) => void (process.exitCode = code))
main.catch((error: Error) => {
  console.error(error.message.startsWith('hiexp') ? error.message : `hiexp: ${error.message}`)
  process.exit(1)
})
