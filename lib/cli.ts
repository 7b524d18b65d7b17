#!/usr/bin/env node
// The `hiexp` command: train, evaluate, benchmark and report. Each subcommand is a thin shell over the library.
import { Command, InvalidArgumentError } from 'commander'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { benchKernels, kernelTable, writeKernelReport } from './experiments/kernel_bench.js'
import { launchMain } from './distributed/launch_cli.js'
import { info } from './native/info.js'
import { plotTraining } from './report/training_plot.js'
import { DISTILLERS, loadTrainConfig, parseTrainConfig } from './train/config.js'
import { Trainer } from './train/trainer.js'
import { compare, METHODS, type Method } from './experiments/compare.js'
import { ContrastiveAnalyzer } from './experience/analyzer.js'
import { HierarchicalExperience } from './experience/hek.js'
import { llmDistiller } from './experience/llm.js'
import { formatHek, writeHekPictures } from './experience/show.js'
import { TrajectoryStore } from './experience/store.js'
import { ExperienceSchema, groupTrajectories } from './experience/types.js'
import { writeFileAtomic } from './util/atomic.js'

function fail(message: string): never {
  throw new InvalidArgumentError(message)
}

function integer(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${value}'`)
  return n
}

async function trainerFrom(opts: { config?: string; out?: string; steps?: number }): Promise<Trainer> {
  const config = opts.config ? loadTrainConfig(opts.config) : parseTrainConfig({})
  if (opts.out) config.outDir = opts.out
  if (opts.steps !== undefined) config.steps = opts.steps
  return Trainer.create(config)
}

const program = new Command()
  .name('hiexp')
  .description('RL for LLM search agents guided by Hierarchical Experience (HiExp)')
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
  .option('--steps <n>', 'RL steps (overrides the config)', integer)
  .action(async (opts) => {
    const trainer = await trainerFrom(opts)
    const started = Date.now()
    const { validation } = await trainer.run()
    const last = validation.at(-1)
    const metrics = join(trainer.config.outDir, 'metrics.jsonl')
    const plot = await plotTraining([{ name: trainer.config.algorithm, metricsFile: metrics }], join(trainer.config.outDir, 'training'))
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s: validation EM ${(last?.em as number)?.toFixed(3)}; metrics ${metrics}; curves ${plot.png}`)
  })

program
  .command('eval')
  .description('greedy evaluation of a run (its checkpoint) on the test split: EM, F1, search calls, by hop count')
  .option('-c, --config <file>', 'the run configuration')
  .option('-o, --out <dir>', 'the run folder holding checkpoint/')
  .option('--split <name>', 'test | validation | train', 'test')
  .option('--limit <n>', 'at most this many questions', integer)
  .action(async (opts) => {
    const trainer = await trainerFrom(opts)
    if (!existsSync(join(trainer.config.outDir, 'checkpoint'))) {
      console.error(`hiexp eval: no checkpoint in ${trainer.config.outDir}: evaluating the initial policy`)
    }
    const split = opts.split as 'test' | 'validation' | 'train'
    if (!['test', 'validation', 'train'].includes(split)) throw new InvalidArgumentError(`--split must be test, validation or train`)
    const examples = trainer.task[split].slice(0, opts.limit ?? undefined)
    const result = await trainer.evaluate(examples)
    console.log(JSON.stringify(result, null, 2))
  })

program
  .command('compare')
  .description('GRPO, GSPO, HiExp-GRPO, HiExp-GSPO from one warm start per seed, same budget: report.md + plots')
  .option('-c, --config <file>', 'base run configuration shared by every method')
  .option('-o, --out <dir>', 'output folder', 'runs/compare')
  .option('--seeds <list>', 'comma-separated seeds', '0,1,2')
  .option('--steps <n>', 'RL steps per method (overrides the config)', integer)
  .option('--methods <list>', `comma-separated subset of ${METHODS.join(', ')}`, METHODS.join(','))
  .option('--hek <file>', "HiExp methods use this HEK instead of building one ('{seed}' becomes the seed): e.g. one built on another task")
  .option('--distiller <kind>', `who distils the HEK built per seed: ${DISTILLERS.join(' | ')} (overrides the config)`)
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
    const seeds = String(opts.seeds).split(',').map((x) => integer(x))
    const started = Date.now()
    const results = await compare({ outDir: opts.out, seeds, methods, base })
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
  const records = new TrajectoryStore(opts.trajectories).read()
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
    console.log(`wrote ${files.svg} and ${files.png}`)
  })

program
  .command('bench')
  .description('kernel benchmarks (policy loss, advantages): a table, JSON and a chart')
  .option('--quick', 'two sizes only')
  .option('-o, --out <dir>', 'where the JSON, table and chart go', 'bench/results')
  .action(async (opts) => {
    const result = await benchKernels({ quick: Boolean(opts.quick), log: (line) => console.error(line) })
    console.log(kernelTable(result))
    console.error(`wrote ${(await writeKernelReport(result, opts.out)).join(', ')}`)
  })

program
  .command('launch')
  .description('run a command as N data-parallel ranks (torchrun conventions): launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- <command…>')
  .allowUnknownOption()

// launch takes everything after it verbatim (its own flags, then `--` and the command), which commander would parse.
const main = process.argv[2] === 'launch' ? launchMain(process.argv.slice(3)).then((code) => void (process.exitCode = code)) : program.parseAsync()
main.catch((error: Error) => {
  console.error(error.message.startsWith('hiexp') ? error.message : `hiexp: ${error.message}`)
  process.exit(1)
})
