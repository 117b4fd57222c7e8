import { fileURLToPath } from 'node:url'
import { DevOrchestrator, type DevOrchestratorOptions } from '../../lib/dev/orchestrator.js'

/** Built entry points (npm test builds first: `pretest`). */
export const EXAMPLE = fileURLToPath(new URL('../../dist/example/server.js', import.meta.url))
export const HOSTILE = fileURLToPath(new URL('../../dist/test/fixtures/hostile-module.js', import.meta.url))
/** A module that binds with `app.listen()` instead of `app.pywatt.listen()`, so it never announces. */
export const APP_LISTEN = fileURLToPath(new URL('../../dist/test/fixtures/app-listen-module.js', import.meta.url))

/** A hostile secret: quotes, backslash, slash, plus, non-ASCII (docs/reliability.md I4). */
export const HOSTILE_SECRET = 'k3y"with\\back/slash+plus=ünï€😀'

/** Start a built module under the dev orchestrator; killed when the test ends. */
export async function startModule (
  t: { after: (fn: () => unknown) => void },
  entry: string,
  opts: Partial<DevOrchestratorOptions> & { extraEnv?: Record<string, string> } = {}
): Promise<{ dev: DevOrchestrator, stderr: string[] }> {
  const { extraEnv, ...rest } = opts
  const dev = new DevOrchestrator({
    command: process.execPath,
    args: [entry],
    secrets: { API_KEY: 'first-api-key-value', JWT_SECRET: 'first-jwt-secret-value-0123456789' },
    env: { ...process.env, ...extraEnv },
    ...rest
  })
  const stderr: string[] = []
  dev.on('stderr', (line: string) => stderr.push(line))
  t.after(() => dev.kill())
  await dev.start()
  return { dev, stderr }
}

/** Every form in which a secret could leak (docs/reliability.md I4). */
export function leakForms (secret: string): string[] {
  const b = Buffer.from(secret)
  return [...new Set([
    secret,
    JSON.stringify(secret).slice(1, -1),
    b.toString('base64'),
    b.toString('base64url'),
    b.toString('hex'),
    encodeURIComponent(secret)
  ])]
}
