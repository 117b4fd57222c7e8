#!/usr/bin/env node
import { runCli } from '../lib/dev/cli.js'

// stdin stays open for commands; the module's exit code is the answer.
process.exit(await runCli(process.argv.slice(2)))
