'use strict'
// The CommonJS entry of hiexp (package.json "require" condition and "main"). hiexp is an ES module; Node.js >= 20.19
// and >= 22.12 load ES modules through require(), so a CommonJS project (or tsx compiling to CommonJS) gets the same
// module. An older Node.js gets a message that says what to do instead of "No exports main defined".
try {
  module.exports = require('../dist/lib/index.js')
} catch (error) {
  if (error && error.code === 'ERR_REQUIRE_ASYNC_MODULE') {
    throw new Error(`hiexp's module graph has a top-level await, so require('hiexp') cannot load it (a hiexp bug: please report it); use import('hiexp') meanwhile`)
  }
  if (error && error.code === 'ERR_REQUIRE_ESM') {
    throw new Error(
      `hiexp is an ES module and this Node.js (${process.version}) cannot require() it: use Node.js >= 20.19 or >= 22.12, ` +
        `or load it with import('hiexp') (or set "type": "module" in your package.json)`,
    )
  }
  throw error
}
