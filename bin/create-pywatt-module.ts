#!/usr/bin/env node
import { runCreate } from '../lib/create/cli.js'

process.exitCode = await runCreate(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  cwd: process.cwd()
})
