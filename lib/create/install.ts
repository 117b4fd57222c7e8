import { spawn } from 'node:child_process'

/**
 * `npm install` in `dir`, preferring the npm cache (it works offline once the
 * packages are cached). Resolves with npm's output when it fails, `null` when
 * it succeeds.
 */
export async function npmInstall (dir: string): Promise<string | null> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const child = spawn(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], shell: process.platform === 'win32' })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  return code === 0 ? null : output.trim()
}
