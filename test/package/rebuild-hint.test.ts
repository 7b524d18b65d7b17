import test from 'ava'
import { rebuildCommand } from '../../lib/native/rebuild.js'

test('the rebuild hint: the build script in a checkout, npm rebuild from the consumer when installed as a dependency', (t) => {
  t.is(rebuildCommand('/work/hiexp'), 'cd /work/hiexp && npm run build:native')
  t.regex(rebuildCommand('/home/u/app/node_modules/hiexp'), /^npm rebuild hiexp --foreground-scripts +\(in the project that depends on hiexp\)$/)
  t.notRegex(rebuildCommand('/home/u/app/node_modules/hiexp'), /npm install in/)
})
