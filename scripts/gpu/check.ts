// gpu-check's order of work: preflight (a GPU, nvcc, NCCL's header, transformers), then the steps in order within the
// budget, then the report and the summary line. Exit code: 0 all passed, 1 a check failed, 2 it could not run.
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GpuCheckOptions } from './args.js'
import { gatherFacts, preflightProblems, type MachineFacts } from './preflight.js'
import { REPORT_FILES, summaryLine, verdict, writeReport, type GpuCheckReport, type MachineSummary, type StepResult } from './report.js'
import { runCommand } from './run.js'
import { STEPS, addonPath, checkAddon, type Step, type StepContext } from './steps.js'

/** Below this many seconds left, a step is not started (it could not finish, and would only be killed). */
const MIN_STEP_S = 15

export interface GpuCheckRun {
  report: GpuCheckReport
  exitCode: 0 | 1 | 2
  summary: string
}

export interface GpuCheckIo {
  /** Progress lines and the summary (stdout). */
  print: (line: string) => void
  /** Problems (stderr). */
  warn: (line: string) => void
}

async function nvccVersion(nvcc: string | undefined): Promise<string | undefined> {
  if (!nvcc) return undefined
  const r = await runCommand(nvcc, ['--version'], { cwd: tmpdir(), timeoutMs: 30_000, log: () => {} })
  return /release ([\d.]+)/.exec(r.stdout)?.[1]
}

async function machineSummary(f: MachineFacts): Promise<MachineSummary> {
  const p = f.probe
  return {
    hostname: hostname(),
    node: process.version,
    ...(p?.device_name ? { gpu: p.device_name, capability: p.capability, memoryGiB: p.memory_gib } : {}),
    ...(p?.torch ? { torch: p.torch, torchCuda: p.torch_cuda ?? null } : {}),
    ...(p?.transformers ? { transformers: p.transformers } : {}),
    ...(f.nvcc ? { nvcc: (await nvccVersion(f.nvcc)) ?? f.nvcc } : {}),
  }
}

function notRun(step: Step, why: string): StepResult {
  return { name: step.name, title: step.title, status: 'not run', seconds: 0, summary: why, problems: [] }
}

export async function runGpuCheck(o: GpuCheckOptions, root: string, io: GpuCheckIo): Promise<GpuCheckRun> {
  const t0 = Date.now()
  const deadline = t0 + o.budgetS * 1000
  mkdirSync(o.outDir, { recursive: true })
  const logStream = createWriteStream(join(o.outDir, REPORT_FILES.log))
  const log = (text: string) => logStream.write(text)
  const hiexp = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  const steps = STEPS.filter((s) => o.steps.includes(s.name))

  io.print(`[gpu-check] hiexp ${hiexp}: ${steps.map((s) => s.name).join(', ')} within ${o.budgetS} s; log ${join(o.outDir, REPORT_FILES.log)}`)
  const facts = await gatherFacts(o.python, root, log)
  const preflight = preflightProblems(facts, o.steps, o.python)
  const results: StepResult[] = []
  const work = mkdtempSync(join(tmpdir(), 'hiexp-gpu-check-'))
  try {
    if (preflight.length) {
      for (const p of preflight) io.warn(`gpu-check: ${p}`)
      results.push(...steps.map((s) => notRun(s, 'not run: the machine cannot run this check (see above)')))
    } else {
      const ctx: StepContext = { root, options: o, facts, addon: addonPath(o.buildDir), work, log }
      let blocked: string | undefined
      if (!o.steps.includes('build')) {
        // Reusing an earlier build (--only without build): it must be the CUDA build this check needs.
        const { outcome } = await checkAddon(ctx, 60_000)
        if (outcome) {
          blocked = `not run: the existing build is not usable (${outcome.summary})`
          io.warn(`gpu-check: ${outcome.problems.join('; ')}`)
        }
      }
      for (const step of steps) {
        const left = (deadline - Date.now()) / 1000
        if (blocked) {
          results.push(notRun(step, blocked))
          continue
        }
        if (left < MIN_STEP_S) {
          results.push({ ...notRun(step, `not run: the ${o.budgetS} s budget was spent`), status: 'fail', problems: [`the ${o.budgetS} s budget was spent before ${step.name} could start`] })
          continue
        }
        const timeoutMs = Math.min(step.capS, left) * 1000
        io.print(`[gpu-check] ${step.name}: ${step.title} (at most ${Math.round(timeoutMs / 1000)} s)`)
        const started = Date.now()
        let outcome
        try {
          outcome = await step.run(ctx, timeoutMs)
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          outcome = { status: 'fail' as const, summary: message, problems: [message] }
        }
        const result: StepResult = { name: step.name, title: step.title, seconds: (Date.now() - started) / 1000, ...outcome }
        results.push(result)
        io.print(`[gpu-check] ${step.name}: ${result.status === 'pass' ? 'pass' : 'FAIL'}, ${result.summary}`)
        for (const p of result.problems) io.warn(`  ${p.replace(/\n/g, '\n    ')}`)
        // Nothing else can run without the addon.
        if (step.name === 'build' && result.status !== 'pass') blocked = 'not run: the build failed'
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  const report: GpuCheckReport = {
    tool: 'hiexp gpu-check',
    hiexp,
    date: new Date(t0).toISOString(),
    ok: verdict(preflight, results),
    budgetS: o.budgetS,
    seconds: (Date.now() - t0) / 1000,
    machine: await machineSummary(facts),
    preflight,
    steps: results,
  }
  const files = writeReport(report, o.outDir)
  log(`\n[gpu-check] wrote ${files.json} and ${files.markdown}\n`)
  await new Promise<void>((resolve) => logStream.end(resolve))
  const exitCode = preflight.length ? 2 : report.ok ? 0 : 1
  return { report, exitCode, summary: summaryLine(report, o.outDir) }
}
