#!/usr/bin/env node
// `npm create pywatt-module` runs this bin. The generator itself ships inside
// fastify-pywatt (its create-pywatt-module bin), so the templates and the
// package they target are released together; this only forwards to it.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
const manifest = require.resolve('fastify-pywatt/package.json')
const { bin } = require(manifest)
await import(pathToFileURL(join(dirname(manifest), bin['create-pywatt-module'])).href)
