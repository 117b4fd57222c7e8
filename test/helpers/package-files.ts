import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

type Target = string | { [condition: string]: Target }

interface PackageJson {
  main?: string
  exports: Record<string, Target>
  imports?: Record<string, Target>
  bin?: string | Record<string, string>
}

const readPackage = (root: string): PackageJson =>
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson

/** The paths of a conditional target, `types` left out: what Node may load. */
function codePaths (target: Target): string[] {
  if (typeof target === 'string') return [target]
  return Object.entries(target).filter(([condition]) => condition !== 'types').flatMap(([, t]) => codePaths(t))
}

const fromPackage = (path: string): string => path.replace(/^\.\//, '')

/**
 * The JavaScript files package.json points a consumer at (each export's code,
 * `main`, the bins), relative to `root`.
 */
export function publicEntries (root: string): string[] {
  const pkg = readPackage(root)
  const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {})
  const paths = [...Object.values(pkg.exports).flatMap(codePaths), ...(pkg.main === undefined ? [] : [pkg.main]), ...bins]
  return [...new Set(paths.map(fromPackage).filter((p) => p.endsWith('.js')))].sort()
}

/**
 * Specifiers of the static imports, re-exports and literal dynamic imports of
 * an ES module's text. TypeScript's scanner reads them, so import statements
 * inside string and template literals (the generator's templates) are text.
 */
function specifiers (code: string): string[] {
  return ts.preProcessFile(code, true, true).importedFiles.map((f) => f.fileName)
}

/**
 * Every file Node loads from the package for its public entries: the entries,
 * then what they import with relative or `#` (package `imports`) specifiers,
 * transitively. Bare specifiers are other packages. Paths are relative to
 * `root`; `missing` lists imports that name no file.
 */
export function reachableFiles (root: string): { files: string[], missing: string[] } {
  const pkg = readPackage(root)
  const seen = new Set<string>()
  const missing: string[] = []
  const queue = publicEntries(root)
  while (queue.length > 0) {
    const file = queue.shift() as string
    if (seen.has(file)) continue
    if (!existsSync(join(root, file))) {
      missing.push(file)
      continue
    }
    seen.add(file)
    for (const spec of specifiers(readFileSync(join(root, file), 'utf8'))) {
      if (spec.startsWith('.')) {
        queue.push(relative(root, resolve(root, dirname(file), spec)))
      } else if (spec.startsWith('#')) {
        const target = pkg.imports?.[spec]
        if (target === undefined) missing.push(`${spec} (imported by ${file})`)
        else queue.push(...codePaths(target).map(fromPackage))
      }
    }
  }
  return { files: [...seen].sort(), missing }
}
