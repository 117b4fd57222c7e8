import t from 'tap'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { configSecret, runModule, type ConfigChange } from '../../plugins/index.js'

// Compile-time checks (tsc --noEmit -p . type-checks this file): the type of
// fastify.pywatt.config, from runModule's `config` and by declaration merging.

const Config = Type.Object({
  greeting: Type.String(),
  workers: Type.Integer({ default: 2 }),
  mode: Type.Union([Type.Literal('dev'), Type.Literal('prod')]),
  token: configSecret(Type.String(), 'TOKEN'),
  tags: Type.Optional(Type.Array(Type.String()))
})

// The plugin form: the app says what its schema holds. The key is this file's
// own, as the merge reaches every file of the program.
export const PluginConfig = Type.Object({ typesTestPluginFlag: Type.Boolean() })
declare module '../../plugins/index.js' {
  interface PyWattConfig extends Static<typeof PluginConfig> {}
}

function same<A, B> (..._proof: A extends B ? (B extends A ? [] : [never]) : [never]): void {}

export async function typed (): Promise<void> {
  const app = await runModule(async (app) => {
    same<typeof app.pywatt.config.greeting, string>()
    same<typeof app.pywatt.config.workers, number>()
    same<typeof app.pywatt.config.mode, 'dev' | 'prod'>()
    same<typeof app.pywatt.config.token, string>()
    same<typeof app.pywatt.config.tags, string[] | undefined>()
    // @ts-expect-error a key the schema does not have
    app.pywatt.config.nope.toString()
    // @ts-expect-error the configuration is read-only
    app.pywatt.config.workers = 3
    app.pywatt.onConfigChange((change) => { same<typeof change, ConfigChange>() })
  }, { config: Config })
  same<typeof app.pywatt.config.mode, 'dev' | 'prod'>()
  await app.close()

  await runModule(async (app) => {
    // @ts-expect-error no schema: only what the app merged into PyWattConfig
    app.pywatt.config.greeting.toString()
  })
  // @ts-expect-error the schema goes in runModule's `config`, not the root plugin's options
  await runModule(async () => {}, { pywatt: { config: Config } })
}

export function merged (app: FastifyInstance): boolean {
  same<typeof app.pywatt.config.typesTestPluginFlag, boolean>()
  return app.pywatt.config.typesTestPluginFlag
}

t.pass('type-checked by tsc')
