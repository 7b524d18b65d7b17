export { compare, writeCompareReport, METHODS, BASELINES, type Method, type Baseline, type MethodResult, type CompareOptions } from './compare.js'
