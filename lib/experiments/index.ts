export { compare, writeCompareReport, pairedDifference, METHODS, BASELINES, type Method, type Baseline, type MethodResult, type CompareOptions } from './compare.js'
export { probeWarmStart, type WarmStartProbe, type ProbeArm } from './compare_probes.js'
export { casePrecision, type CasePrecision } from './case_precision.js'
