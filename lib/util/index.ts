export { writeFileAtomic } from './atomic.js'
export { Random, uniform } from './random.js'
