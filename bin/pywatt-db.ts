#!/usr/bin/env node
import { runDbCli } from '../lib/db/migrations/cli.js'

process.exit(await runDbCli(process.argv.slice(2)))
