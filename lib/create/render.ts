import type { Choices, Versions } from './choices.js'
import { ciWorkflow, devConfig, envExample, gitignore, packageJson, readme, tsconfig } from './templates/project.js'
import { app, cacheRoute, databaseRoute, firstMigration, helloRoute, meRoute, notesRoute, server } from './templates/source.js'
import { appTest, moduleTest, secretsHelper } from './templates/tests.js'

/** The files of a new project for `choices`: relative path → content. Pure: nothing is written. */
export function render (c: Choices, versions: Versions): Map<string, string> {
  if (c.migrations && c.db === 'none') throw new TypeError('migrations need a database')
  const ext = c.typescript ? 'ts' : 'js'
  const files = new Map<string, string>([
    ['package.json', packageJson(c, versions)],
    ['.env.example', envExample(c)],
    ['pywatt.dev.json', devConfig(c)],
    ['.gitignore', gitignore(c)],
    ['README.md', readme(c)],
    ['.github/workflows/ci.yml', ciWorkflow(c)],
    [`src/app.${ext}`, app(c)],
    [`src/server.${ext}`, server()],
    [`src/routes/hello.${ext}`, helloRoute(c)],
    [`test/secrets.${ext}`, secretsHelper(c)],
    [`test/app.test.${ext}`, appTest(c)],
    [`test/module.test.${ext}`, moduleTest(c)]
  ])
  if (c.typescript) files.set('tsconfig.json', tsconfig())
  if (c.db !== 'none') files.set(`src/routes/${c.migrations ? 'notes' : 'database'}.${ext}`, c.migrations ? notesRoute(c) : databaseRoute(c))
  if (c.migrations) files.set('migrations/001.create-notes.sql', firstMigration(c))
  if (c.cache !== 'none') files.set(`src/routes/cache.${ext}`, cacheRoute(c))
  if (c.jwt) files.set(`src/routes/me.${ext}`, meRoute(c))
  if (!c.typescript) {
    // An editor then checks the JavaScript against its JSDoc and fastify-pywatt's types, as the tests do.
    for (const [path, text] of files) if (path.endsWith('.js')) files.set(path, `// @ts-check\n${text}`)
  }
  return files
}
