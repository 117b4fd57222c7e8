/*
 * The generator on a real terminal: the built bin runs under util-linux
 * `script`, which gives it a pseudo-terminal (so stdin and stdout are TTYs
 * and @clack/prompts takes over), and the test types keys into it as a user
 * would: text, arrows, Enter, Ctrl-C. Each key is sent only once the prompt
 * it answers is on the screen.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { requireBinary } from '../helpers/binaries.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(root, 'dist', 'bin', 'create-pywatt-module.js')

const DOWN = '\x1b[B'
const RIGHT = '\x1b[C'
const ENTER = '\r'
const CTRL_C = '\x03'

/** The screen's text without colours and cursor moves. */
// eslint-disable-next-line no-control-regex -- ANSI escapes are control characters
const plain = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')

interface Terminal {
  /** Wait until `prompt` shows after what was answered so far, then type `keys`. */
  answer: (prompt: RegExp, keys: string) => Promise<void>
  /** The exit code, and everything the terminal showed. */
  done: () => Promise<{ code: number | null, screen: string }>
}

/** The generator in a pseudo-terminal of 100 × 40 in `cwd`. */
function terminal (t: Test, cwd: string, args: string[]): Terminal {
  const quote = (a: string): string => `'${a.replaceAll("'", "'\\''")}'`
  // script starts the command in a shell; the terminal gets a size first (a pseudo-terminal starts at 0 × 0).
  const command = `stty cols 100 rows 40; exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: { ...process.env, TERM: 'xterm-256color' } })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let screen = ''
  child.stdout.on('data', (chunk: Buffer) => { screen += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
  let seen = 0
  return {
    answer: async (prompt, keys) => {
      const until = Date.now() + 20_000
      for (;;) {
        const at = plain(screen.slice(seen)).search(prompt)
        if (at !== -1) break
        if (child.exitCode !== null || Date.now() > until) throw new Error(`${prompt} never showed; the terminal:\n${plain(screen)}`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      seen = screen.length
      child.stdin.write(keys)
    },
    done: async () => {
      const code = await exited
      return { code, screen: plain(screen) }
    }
  }
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pywatt-create-tty-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const manifest = (dir: string): { dependencies: Record<string, string> } =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }

const built = existsSync(BIN)
if (!built && process.env.CI !== 'true') {
  t.plan(0, 'no build (dist/bin/create-pywatt-module.js): npm test builds first')
} else if (requireBinary(t, 'script', 'util-linux') !== null) {
  t.test('every prompt answered from the keyboard: the project follows the answers', async (t) => {
    const cwd = tempDir(t)
    const tty = terminal(t, cwd, ['--no-install'])
    await tty.answer(/Where should the module go\?/, `shop${ENTER}`)
    await tty.answer(/Database/, `${DOWN}${ENTER}`) // PostgreSQL
    await tty.answer(/Cache/, `${DOWN}${DOWN}${ENTER}`) // Memcached
    await tty.answer(/JWT auth/, `${RIGHT}${ENTER}`) // No
    await tty.answer(/HTTP over IPC/, `${RIGHT}${ENTER}`) // Yes
    await tty.answer(/Prometheus metrics/, ENTER) // Yes, the default
    await tty.answer(/Database migrations/, ENTER) // Yes, the default
    await tty.answer(/Language/, `${DOWN}${ENTER}`) // JavaScript
    const { code, screen } = await tty.done()
    t.equal(code, 0, screen)
    t.match(screen, /Next:\s+cd shop\s+npm install\s+npm run dev/)
    const dir = join(cwd, 'shop')
    const pkg = manifest(dir)
    t.same(Object.keys(pkg.dependencies).sort(), ['@fastify/postgres', 'fastify', 'fastify-pywatt', 'memjs', 'pg'])
    const dev = JSON.parse(readFileSync(join(dir, 'pywatt.dev.json'), 'utf8')) as { modules: Array<{ name: string, via?: string }> }
    t.same(dev.modules.map((m) => [m.name, m.via]), [['shop', 'stdio']], 'HTTP over IPC: pywatt-dev forwards over stdin/stdout')
    t.same(readdirSync(join(dir, 'src', 'routes')).sort(), ['cache.js', 'hello.js', 'notes.js'], 'JavaScript, no /me')
    t.ok(existsSync(join(dir, 'migrations', '001.create-notes.sql')))
    t.match(readFileSync(join(dir, 'src', 'app.js'), 'utf8'), /metrics: true/)
  })

  t.test('what the flags decide is not asked', async (t) => {
    const cwd = tempDir(t)
    const tty = terminal(t, cwd, ['flagged', '--db', 'none', '--no-install'])
    await tty.answer(/Cache/, `${DOWN}${DOWN}${DOWN}${ENTER}`) // None
    await tty.answer(/JWT auth/, ENTER)
    await tty.answer(/HTTP over IPC/, ENTER)
    await tty.answer(/Prometheus metrics/, ENTER)
    await tty.answer(/Language/, ENTER)
    const { code, screen } = await tty.done()
    t.equal(code, 0, screen)
    t.notMatch(screen, /Where should the module go|Database|migrations/, 'no question for the directory, the database, or migrations without one')
    t.same(Object.keys(manifest(join(cwd, 'flagged')).dependencies).sort(), ['fastify', 'fastify-pywatt'])
    t.ok(existsSync(join(cwd, 'flagged', 'src', 'server.ts')))
  })

  t.test('Ctrl-C at a prompt cancels: exit 1, and nothing is written', async (t) => {
    const cwd = tempDir(t)
    const tty = terminal(t, cwd, ['cancelled', '--no-install'])
    await tty.answer(/Database/, DOWN)
    await tty.answer(/PostgreSQL/, CTRL_C)
    const { code, screen } = await tty.done()
    t.equal(code, 1)
    t.match(screen, /Cancelled: nothing was written\./)
    t.same(readdirSync(cwd), [], 'no directory was made')
  })

  t.test('a failed install on a terminal: the spinner ends in the failure, npm\'s own error follows, and the project stays for a retry', async (t) => {
    const cwd = tempDir(t)
    const missing = join(cwd, 'missing', 'fastify-pywatt.tgz')
    const tty = terminal(t, cwd, ['broken', '--yes', '--pywatt', `file:${missing}`])
    const { code, screen } = await tty.done()
    t.equal(code, 1)
    t.match(screen, /Installing dependencies \(npm install\)/)
    t.match(screen, /npm install failed/)
    t.match(screen, /ENOENT[^\n]*fastify-pywatt\.tgz/, 'npm\'s reason is shown')
    t.match(screen, /The project is written to \S*broken: run npm install there once the problem is fixed\./)
    t.ok(existsSync(join(cwd, 'broken', 'package.json')))
  })
}
