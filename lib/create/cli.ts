import { basename, relative, resolve } from 'node:path'
import { intro, outro, spinner } from '@clack/prompts'
import { DEFAULT_CHOICES, invalidName, type Choices } from './choices.js'
import { parseCreateArgs, USAGE } from './args.js'
import { askChoices, Cancelled } from './prompts.js'
import { render } from './render.js'
import { ownVersions } from './versions.js'
import { NotEmpty, writeProject } from './write.js'
import { npmInstall } from './install.js'

export interface CreateIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** Prompts and the spinner only on a terminal. */
  interactive: boolean
  cwd: string
}

/** Progress lines: the clack spinner on a terminal, plain lines otherwise. */
function progress (io: CreateIo): { start: (m: string) => void, stop: (m: string) => void, fail: (m: string) => void } {
  if (io.interactive) {
    const s = spinner()
    return { start: (m) => s.start(m), stop: (m) => s.stop(m), fail: (m) => s.error(m) }
  }
  return {
    start: (m) => io.stdout.write(`${m}...\n`),
    stop: (m) => io.stdout.write(`${m}\n`),
    fail: (m) => io.stderr.write(`${m}\n`)
  }
}

/** The generator's command line; resolves with the exit code (0 done, 1 failed, 2 usage). */
export async function runCreate (argv: string[], io: CreateIo): Promise<number> {
  let args
  try {
    args = parseCreateArgs(argv)
  } catch (err) {
    io.stderr.write(`create-pywatt-module: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (args.help) {
    io.stdout.write(USAGE)
    return 0
  }
  const ask = io.interactive && !args.yes
  if (ask) intro('create-pywatt-module')
  let directory: string
  let rest: Omit<Choices, 'name'>
  try {
    if (ask) {
      ({ directory, choices: rest } = await askChoices(args.directory, args.choices))
    } else {
      if (args.directory === undefined) {
        io.stderr.write(`create-pywatt-module: name the directory to create\n\n${USAGE}`)
        return 2
      }
      directory = args.directory
      const db = args.choices.db ?? DEFAULT_CHOICES.db
      rest = { ...DEFAULT_CHOICES, migrations: db !== 'none', ...args.choices }
    }
  } catch (err) {
    if (err instanceof Cancelled) return 1
    throw err
  }
  const target = resolve(io.cwd, directory)
  const name = basename(target)
  const bad = invalidName(name)
  if (bad !== undefined) {
    io.stderr.write(`create-pywatt-module: "${name}" cannot be the package name: ${bad}\n`)
    return 2
  }
  const versions = ownVersions()
  const files = render({ name, ...rest }, args.pywatt === undefined ? versions : { ...versions, pywatt: args.pywatt })
  try {
    writeProject(target, files, args.force)
  } catch (err) {
    if (!(err instanceof NotEmpty)) throw err
    io.stderr.write(`create-pywatt-module: ${err.message}\n`)
    return 1
  }
  const steps = progress(io)
  steps.stop(`Wrote ${files.size} files to ${target}`)
  const cd = relative(io.cwd, target) || '.'
  const next = [`cd ${cd.includes(' ') ? JSON.stringify(cd) : cd}`]
  if (args.install) {
    steps.start('Installing dependencies (npm install)')
    const failed = await npmInstall(target)
    if (failed !== null) {
      steps.fail('npm install failed')
      io.stderr.write(`${failed}\nThe project is written to ${target}: run npm install there once the problem is fixed.\n`)
      return 1
    }
    steps.stop('Installed dependencies')
  } else {
    next.push('npm install')
  }
  next.push('npm run dev')
  const message = `Next:\n${next.map((c) => `  ${c}`).join('\n')}\n`
  if (ask) outro(message)
  else io.stdout.write(message)
  return 0
}
