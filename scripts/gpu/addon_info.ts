// Prints what the addon at HIEXP_ADDON was built with and sees, as one JSON line (gpu-check's build step reads it).
import { distBackends, info } from '../../lib/index.js'

console.log(JSON.stringify({ ...info(), distBackends: distBackends(), addon: process.env.HIEXP_ADDON ?? null }))
