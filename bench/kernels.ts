// Kernel benchmark (lib/experiments/kernel_bench.ts): prints the table, writes bench/results/kernels.{json,md,svg,png}.
//   npx tsx bench/kernels.ts [--quick] [--out bench/results]
import { join } from 'node:path'
import { benchKernels, kernelTable, writeKernelReport } from '../lib/experiments/kernel_bench.js'

const at = process.argv.indexOf('--out')
const outDir = at > 0 ? process.argv[at + 1] : join(import.meta.dirname, 'results')
const result = await benchKernels({ quick: process.argv.includes('--quick'), log: (line) => console.error(line) })
console.log(kernelTable(result))
console.error(`wrote ${(await writeKernelReport(result, outDir)).join(', ')}`)
