import { createRequire } from 'node:module'
import type { Versions } from './choices.js'

interface Manifest {
  version: string
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

/**
 * The ranges a new project asks for: this package's own version, and the
 * versions this package is built and tested with for the rest.
 */
export function ownVersions (): Versions {
  // The package's own name resolves to itself (exports has "./package.json"), from the sources and from dist.
  const pkg = createRequire(import.meta.url)('fastify-pywatt/package.json') as Manifest
  const range = (name: string): string => {
    const found = pkg.dependencies[name] ?? pkg.devDependencies[name]
    if (found === undefined) throw new Error(`fastify-pywatt's package.json has no ${name}`)
    return found
  }
  return {
    pywatt: `^${pkg.version}`,
    fastify: range('fastify'),
    typescript: range('typescript'),
    typesNode: range('@types/node'),
    pg: range('pg'),
    fastifyPostgres: range('@fastify/postgres'),
    fastifyRedis: range('@fastify/redis'),
    mysql2: range('mysql2'),
    ioredis: range('ioredis'),
    memjs: range('memjs'),
    typesPg: range('@types/pg'),
    typesMemjs: range('@types/memjs')
  }
}
