import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** Thrown when the target directory has files and overwriting was not asked for. */
export class NotEmpty extends Error {}

/** Write `files` under `dir`, which must be missing or empty unless `force`. */
export function writeProject (dir: string, files: Map<string, string>, force: boolean): void {
  if (!force && existsSync(dir) && readdirSync(dir).length > 0) {
    throw new NotEmpty(`${dir} is not empty: choose another directory, or pass --force to write into it`)
  }
  for (const [path, text] of files) {
    const file = join(dir, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, text)
  }
}
