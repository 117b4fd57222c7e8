import { Check, Errors, Kind, OptionalKind, TypeCompiler, ValueErrorType, type TSchema, type TypeCheck, type ValueError } from '#typebox'
import { ERR_PYWATT_PROTOCOL } from '../errors.js'
import { ARRAY_ITEM, formatPath, pathAtOffset, truncate, type FloatPath, type PathSegment } from './strict-json.js'

/**
 * Schema validation for decoders: a compiled TypeBox check on the fast path,
 * and on failure an error that names the first offending field in serde's
 * terms ("missing field `env`", "field `body[3]`: expected an integer 0..255").
 * Error messages never quote string values of fields, which may be secrets.
 */

/** Where a value sits inside the parsed text: used to prefix field names and to find float literals. */
export interface Location {
  /** The whole JSON text the value came from (to locate float literals exactly). */
  text: string
  /** The node of this value in the tree of paths holding float literals; `null` when none is under it. */
  floatTree: FloatPath | null
  /** Path of this value from the top of the text, for messages. */
  prefix: ReadonlyArray<string | number>
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

/** The compiled checker of `schema`, compiled once on first use. */
export function checker<T extends TSchema> (schema: T): TypeCheck<T> {
  let check = compiled.get(schema)
  if (check === undefined) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  return check as TypeCheck<T>
}

/**
 * Uses of a schema checked by TypeBox's interpreter before it is compiled.
 * Compiling generates and evaluates code (about 4 ms for the Init schema on a
 * slow core), which only pays off for schemas checked again and again: Init
 * and most control messages arrive once or rarely, `http_request` all the time.
 */
const INTERPRETED_USES = 2
const uses = new WeakMap<TSchema, number>()

/** Whether `value` matches `schema`: interpreted for its first uses, compiled after. */
function matches (schema: TSchema, value: unknown): boolean {
  const check = compiled.get(schema)
  if (check !== undefined) return check.Check(value)
  const n = (uses.get(schema) ?? 0) + 1
  if (n > INTERPRETED_USES) return checker(schema).Check(value)
  uses.set(schema, n)
  return Check(schema, value)
}

/**
 * Check that `value` matches `schema`, including the rule `JSON.parse` cannot
 * see: integer fields reject float-formatted literals (`4102.0`, `1e3`). Then
 * drop the keys of `Option` fields that hold `null`, in place, so that decoded
 * values match the `Decoded<…>` types (absent, never null).
 *
 * @throws ERR_PYWATT_PROTOCOL naming the first offending field
 */
export function validate (schema: TSchema, value: unknown, at: Location): void {
  if (!matches(schema, value)) {
    const first = Errors(schema, value).First() as ValueError
    throw new ERR_PYWATT_PROTOCOL(describe(first, value, at.prefix))
  }
  if (at.floatTree !== null) {
    const offset = firstMisplacedFloat(reach([schema]), at.floatTree)
    if (offset !== Infinity) {
      throw new ERR_PYWATT_PROTOCOL(`field \`${formatPath(pathAtOffset(at.text, offset))}\`: expected an integer, got a float literal`)
    }
  }
  if (hasOptions(schema)) dropNullOptions(schema, value)
}

/** The location of the value under `key` of the current value. */
export function under (at: Location, key: string): Location {
  return { text: at.text, floatTree: at.floatTree?.children?.get(key) ?? null, prefix: [...at.prefix, key] }
}

/** A short, value-free description of a JSON value's type. */
export function typeName (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  // Numbers are described, not quoted: any field may carry a secret by mistake.
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a non-integer number'
  if (typeof value === 'string') return 'a string'
  return `a ${typeof value}`
}

interface SchemaShape extends TSchema {
  expected?: string
  anyOf?: TSchema[]
  properties?: Record<string, SchemaShape>
  patternProperties?: Record<string, TSchema>
  items?: TSchema
  const?: unknown
}

const optionsCache = new WeakMap<TSchema, boolean>()

/**
 * Whether any `Option` field (optional and nullable) sits in `schema`, outside
 * free-form JSON. Maps (`Record`) are not searched: the protocol's maps hold
 * strings or free-form JSON only.
 */
function hasOptions (schema: SchemaShape): boolean {
  let found = optionsCache.get(schema)
  if (found === undefined) {
    optionsCache.set(schema, false)
    switch (schema[Kind]) {
      case 'Object': found = Object.values(schema.properties as Record<string, SchemaShape>).some((p) => isOption(p) || hasOptions(p)); break
      case 'Array': found = hasOptions(schema.items as SchemaShape); break
      case 'Union': found = (schema.anyOf as SchemaShape[]).some(hasOptions); break
      default: found = false
    }
    optionsCache.set(schema, found)
  }
  return found
}

function isOption (schema: SchemaShape): boolean {
  return schema[OptionalKind] === 'Optional' && schema[Kind] === 'Union' && (schema.anyOf as SchemaShape[]).some((m) => m[Kind] === 'Null')
}

// Runs on values that already passed the check, so shapes can be trusted.
interface OptionProperty { key: string, prop: SchemaShape, option: boolean }
const optionPropertyCache = new WeakMap<SchemaShape, OptionProperty[]>()

/** The properties of an object schema that are options or hold some, listed once per schema. */
function optionProperties (schema: SchemaShape): OptionProperty[] {
  let list = optionPropertyCache.get(schema)
  if (list === undefined) {
    list = []
    for (const [key, prop] of Object.entries(schema.properties as Record<string, SchemaShape>)) {
      const option = isOption(prop)
      if (option || hasOptions(prop)) list.push({ key, prop, option })
    }
    optionPropertyCache.set(schema, list)
  }
  return list
}

function dropNullOptions (schema: SchemaShape, value: unknown): void {
  switch (schema[Kind]) {
    case 'Object': {
      const obj = value as Record<string, unknown>
      for (const { key, prop, option } of optionProperties(schema)) {
        const v = obj[key]
        if (v === null && option) delete obj[key]
        else if (v != null && hasOptions(prop)) dropNullOptions(prop, v)
      }
      break
    }
    case 'Array': {
      const items = schema.items as SchemaShape
      if (hasOptions(items)) for (const v of value as unknown[]) dropNullOptions(items, v)
      break
    }
    case 'Union': {
      // The first member with options that the value matches decides (e.g. T in Option<T>).
      const member = (schema.anyOf as SchemaShape[]).find((m) => hasOptions(m) && matches(m, value))
      if (member !== undefined) dropNullOptions(member, value)
      break
    }
  }
}

/** Some schema on the way takes any number from here down (free-form JSON, an ignored key). */
const ANY_NUMBER = Symbol('any number')

/** The schemas a path may still be checked against, unions flattened; none left means no float fits. */
type Reach = typeof ANY_NUMBER | readonly SchemaShape[]

function reach (schemas: readonly SchemaShape[]): Reach {
  const out: SchemaShape[] = []
  for (const schema of schemas) {
    const kind = schema[Kind] as string
    // Free-form JSON (`serde_json::Value`) takes any number.
    if (kind === 'Unknown' || kind === 'Any' || kind === 'Number') return ANY_NUMBER
    if (kind === 'Union') {
      const members = reach(schema.anyOf as SchemaShape[])
      if (members === ANY_NUMBER) return ANY_NUMBER
      out.push(...members)
    } else {
      out.push(schema)
    }
  }
  return out
}

/** Where the schemas of `from` lead one segment deeper. */
function step (from: readonly SchemaShape[], seg: PathSegment): Reach {
  const next: SchemaShape[] = []
  for (const schema of from) {
    const kind = schema[Kind] as string
    if (kind === 'Object') {
      const props = schema.properties as Record<string, SchemaShape>
      // Unknown keys are ignored by serde, whatever they hold.
      if (typeof seg !== 'string' || !Object.hasOwn(props, seg)) {
        if (seg !== ARRAY_ITEM) return ANY_NUMBER
      } else {
        next.push(props[seg] as SchemaShape)
      }
    } else if (kind === 'Record') {
      next.push(Object.values(schema.patternProperties as object)[0] as SchemaShape)
    } else if (kind === 'Array') {
      next.push(schema.items as SchemaShape)
    }
  }
  return reach(next)
}

/**
 * The offset of the first float literal under `node` that no schema of `schemas`
 * takes as a number, or `Infinity`. Each node of the tree is visited at most
 * once, and not at all below free-form JSON.
 */
function firstMisplacedFloat (schemas: Reach, node: FloatPath): number {
  if (schemas === ANY_NUMBER) return Infinity
  let first = node.offset === -1 ? Infinity : node.offset
  if (node.children !== undefined) {
    for (const [seg, child] of node.children) first = Math.min(first, firstMisplacedFloat(step(schemas, seg), child))
  }
  return first
}

function describe (error: ValueError, root: unknown, prefix: ReadonlyArray<string | number>): string {
  const refined = refine(error)
  const path = [...prefix, ...pointerToPath(refined.path, root)]
  const field = formatPath(path)
  const subject = field === '' ? '' : `field \`${field}\`: `
  if (refined.type === ValueErrorType.ObjectRequiredProperty) return `missing field \`${field}\``
  if (refined.type === ValueErrorType.ObjectAdditionalProperties) return `${subject}unexpected key`
  const schema = refined.schema as SchemaShape
  const value = refined.value
  // The value is a string of the wrong syntax (UUID, socket address): the expectation says it all.
  if (refined.type === ValueErrorType.StringPattern || refined.type === ValueErrorType.StringFormat) return `${subject}expected ${expected(schema)}`
  if (refined.type === ValueErrorType.IntegerMaximum || refined.type === ValueErrorType.IntegerMinimum) return `${subject}expected ${expected(schema)}, got an integer out of range`
  const tag = refined.type === ValueErrorType.Union && typeof value === 'object' && value !== null ? discriminator(schema.anyOf as SchemaShape[]) : undefined
  if (tag !== undefined) {
    const tags = (schema.anyOf as SchemaShape[]).map((m) => `\`${String(m.properties?.[tag]?.const)}\``).join(', ')
    const tagField = formatPath([...path, tag])
    const given = (value as Record<string, unknown>)[tag]
    if (given === undefined) return `missing field \`${tagField}\``
    const what = typeof given === 'string' ? `unknown variant \`${truncate(given)}\`` : `got ${typeName(given)}`
    return `field \`${tagField}\`: ${what}, expected one of ${tags}`
  }
  if (isStringEnum(schema) && typeof value === 'string') {
    // An enum variant is a name, not data, so quoting it (shortened) is safe and useful.
    return `${subject}unknown variant \`${truncate(value)}\`, expected ${expected(schema)}`
  }
  return `${subject}expected ${expected(schema)}, got ${typeName(value)}`
}

/** Descend into the union member that the value was evidently meant to match. */
function refine (error: ValueError): ValueError {
  if (error.type !== ValueErrorType.Union) return error
  const members = (error.schema as SchemaShape).anyOf as SchemaShape[]
  const value = error.value
  let pick = -1
  if (value !== null && members.some((m) => m[Kind] === 'Null')) {
    // Option<T> given a non-null value: report what is wrong with the T.
    const candidates = members.map((m, i) => m[Kind] === 'Null' ? -1 : i).filter((i) => i >= 0)
    if (candidates.length === 1) pick = candidates[0] as number
  }
  if (pick === -1 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const objects = members.map((m, i) => m[Kind] === 'Object' ? i : -1).filter((i) => i >= 0)
    if (objects.length === 1) pick = objects[0] as number
    else {
      // A tagged union of structs (e.g. registration requests by `request_type`): follow the tag.
      const tag = discriminator(members)
      if (tag !== undefined) pick = members.findIndex((m) => m.properties?.[tag]?.const === (value as Record<string, unknown>)[tag])
    }
  }
  const sub = pick === -1 ? undefined : error.errors[pick]?.First()
  return sub === undefined ? error : refine(sub)
}

/** The key every member of a union of objects has as a string literal, if any. */
function discriminator (members: SchemaShape[]): string | undefined {
  const first = members[0]?.properties
  if (first === undefined) return undefined
  return Object.keys(first).find((key) => members.every((m) => typeof m.properties?.[key]?.const === 'string'))
}

function isStringEnum (schema: SchemaShape): boolean {
  if (schema[Kind] === 'Literal') return typeof schema.const === 'string'
  return schema[Kind] === 'Union' && (schema.anyOf as SchemaShape[]).every((m) => m[Kind] === 'Literal' && typeof m.const === 'string')
}

function expected (schema: SchemaShape): string {
  if (schema.expected !== undefined) return schema.expected
  switch (schema[Kind]) {
    case 'String': return 'a string'
    case 'Boolean': return 'a boolean'
    case 'Integer': return 'an integer'
    case 'Object': return 'an object'
    case 'Record': return 'an object'
    case 'Array': return 'an array'
    case 'Null': return 'null'
    case 'Literal': return `\`${String(schema.const)}\``
    case 'Union': return (schema.anyOf as SchemaShape[]).map(expected).join(' or ')
    /* c8 ignore next 2 */
    default: return 'a different value'
  }
}

function pointerToPath (pointer: string, root: unknown): Array<string | number> {
  if (pointer === '') return []
  const out: Array<string | number> = []
  let node: unknown = root
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(node)) {
      out.push(Number(key))
      node = node[Number(key)]
    } else {
      out.push(key)
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined
    }
  }
  return out
}
