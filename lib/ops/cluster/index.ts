export { linkage, pdist, type LinkageMethod, type LinkageMetric, type LinkageOptions } from './linkage.js'
export { cutTree, levels, type CutOptions, type Level } from './cut.js'
export { leafOrder, dendrogramSvg, dendrogramPng, type DendrogramOptions } from './dendrogram.js'
export { readTree, type Tree } from './tree.js'
