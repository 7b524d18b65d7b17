export { compare, writeCompareReport, pairedDifference, METHODS, BASELINES, type Method, type Baseline, type MethodResult, type CompareOptions } from './compare.js'
export { probeWarmStart, type WarmStartProbe, type ProbeArm } from './compare_probes.js'
export { retrievalPrecision, type RetrievalPrecision } from './retrieval_precision.js'
