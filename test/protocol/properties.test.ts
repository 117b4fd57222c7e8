import t from 'tap'
import fc from 'fast-check'
import { AssertionError, deepStrictEqual, match } from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { decodeHttpRequestBytes } from '../../lib/protocol/decode.js'
import {
  decodeInit, decodeModuleFrame, decodeOrchestratorFrame, decodeOrchestratorMessage, formatPath
} from '../../lib/protocol/index.js'
import { checkProperty } from '../helpers/property.js'

// Property tests (fast-check) of the decoders of untrusted input: whatever
// the text, a decoder returns or refuses with ERR_PYWATT_PROTOCOL, never
// another exception; text JSON.parse refuses is refused; a refusal about one
// field names that field.

const PROTOCOL_ERROR = 'FST_PYWATT_PROTOCOL'

interface Decoder {
  name: string
  decode: (text: string) => unknown
  /** Whether the decoder sees the text as UTF-8 bytes (a lone surrogate becomes U+FFFD on the way). */
  bytes: boolean
}

const frame = (format: number, text: string): Buffer => format === 3 ? Buffer.from(Buffer.from(text).toString('base64')) : Buffer.from(text)
const orchestratorFrame = (format: number): Decoder => ({ name: `decodeOrchestratorFrame(${format})`, decode: (text) => decodeOrchestratorFrame(format, frame(format, text)), bytes: true })
const moduleFrame = (format: number): Decoder => ({ name: `decodeModuleFrame(${format})`, decode: (text) => decodeModuleFrame(format, frame(format, text)), bytes: true })

const STDIO: Decoder[] = [
  { name: 'decodeOrchestratorMessage', decode: decodeOrchestratorMessage, bytes: false },
  { name: 'decodeInit', decode: decodeInit, bytes: false }
]
const FRAMES: Decoder[] = [orchestratorFrame(1), orchestratorFrame(2), orchestratorFrame(3), moduleFrame(1)]
const DECODERS = [...STDIO, ...FRAMES]

/** `undefined` when `decode` returns, the message when it refuses; any other exception fails the property. */
function refusal (decode: () => unknown): string | undefined {
  try {
    decode()
    return undefined
  } catch (err) {
    if ((err as { code?: string }).code !== PROTOCOL_ERROR) throw err
    return (err as Error).message
  }
}

/** Every decoder decodes or refuses `text`; what JSON.parse refuses, they refuse; the bytes fast path agrees with the text path. */
function checkAllDecoders (text: string): void {
  const textIsJson = parses(text)
  const bytesAreJson = parses(Buffer.from(text).toString())
  for (const decoder of DECODERS) {
    const refused = refusal(() => decoder.decode(text))
    if (refused === undefined && !(decoder.bytes ? bytesAreJson : textIsJson)) {
      throw new AssertionError({ message: `${decoder.name} accepted text JSON.parse refuses: ${JSON.stringify(text)}` })
    }
  }
  const fast = decodeHttpRequestBytes(Buffer.from(text))
  if (fast !== null) deepStrictEqual(fast, decodeOrchestratorMessage(Buffer.from(text).toString()), 'the bytes fast path decodes as the text path does')
}

function parses (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------
// Valid inputs: the vectors each decoder accepts, and a large http_request.

interface Vector { name: string, direction: string, wire_text?: string }

const vectorDir = new URL('../fixtures/vectors/', import.meta.url)
const vectors = readdirSync(vectorDir).filter((f) => f.endsWith('.json'))
  .flatMap((f) => JSON.parse(readFileSync(new URL(f, vectorDir), 'utf8')) as Vector[])
  .filter((v) => v.wire_text !== undefined)

// Over 1 KiB with the body last, so that the bytes and text fast paths apply.
const LARGE_REQUEST = JSON.stringify({ op: 'http_request', request_id: 'r', method: 'POST', uri: '/', headers: { a: 'b' }, body: Array.from({ length: 300 }, (_, i) => i & 0xff) })

/** A valid text and a decoder that accepts it. */
interface Target { name: string, text: string, decoder: Decoder }

const TARGETS: Target[] = [...vectors.map((v) => ({ name: v.name, text: v.wire_text as string, direction: v.direction })), { name: 'large http_request', text: LARGE_REQUEST, direction: 'orchestrator_to_module' }]
  .flatMap(({ name, text, direction }) => (direction === 'orchestrator_to_module' ? [...STDIO, orchestratorFrame(1), orchestratorFrame(3)] : [moduleFrame(1)])
    .filter((decoder) => refusal(() => decoder.decode(text)) === undefined)
    .map((decoder) => ({ name: `${name} → ${decoder.name}`, text, decoder })))

t.ok(TARGETS.length > 80, `${TARGETS.length} valid (vector, decoder) pairs to mutate`)

// ---------------------------------------------------------------------------
// Mutations of a valid value at one path.

type Segment = string | number
type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Every path in `value` below the top, parents first. */
function pathsOf (value: Json, prefix: Segment[] = []): Segment[][] {
  if (value === null || typeof value !== 'object') return []
  const entries: Array<[Segment, Json]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value)
  return entries.flatMap(([k, v]) => [[...prefix, k], ...pathsOf(v, [...prefix, k])])
}

function kindOf (value: Json): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
}

/** A copy of `root` with `edit` applied to the container of `path`'s last segment. */
function edited (root: Json, path: Segment[], edit: (container: Record<string, Json> | Json[], key: Segment) => void): Json {
  const copy = structuredClone(root)
  let node = copy as Record<string, Json> | Json[]
  for (const seg of path.slice(0, -1)) node = (node as Record<string, Json>)[seg] as Record<string, Json>
  edit(node, path[path.length - 1] as Segment)
  return copy
}

// Stands for a raw JSON text spliced in after serialisation (control characters are escaped, so it cannot clash).
const MARK = '\u0001mark\u0001'
const MARK_JSON = JSON.stringify(MARK)

function spliced (root: Json, path: Segment[], raw: string): string {
  return JSON.stringify(edited(root, path, (c, k) => { (c as Record<string, Json>)[k] = MARK })).replace(MARK_JSON, raw)
}

/**
 * Whether the field a refusal names is `path`, inside it, or one of its
 * ancestors (a union or an object judged as a whole). A frame whose top-level
 * key went missing may no longer read as an envelope, and then lacks its `op`.
 */
function related (field: string, path: Segment[]): boolean {
  const at = formatPath(path)
  if (field === at || field.startsWith(`${at}.`) || field.startsWith(`${at}[`)) return true
  for (let depth = 1; depth < path.length; depth++) if (field === formatPath(path.slice(0, depth))) return true
  return field === 'op' && path.length === 1
}

const FIELD = /^Protocol error: (?:missing )?field `([^`]+)`/

/** A target, its value, and one path in it. */
const targetAndPath = fc.record({ target: fc.constantFrom(...TARGETS), pick: fc.nat() }).map(({ target, pick }) => {
  const value = JSON.parse(target.text) as Json
  const paths = pathsOf(value)
  return { target, value, path: paths[pick % paths.length] ?? [] }
}).filter(({ path }) => path.length > 0)

t.test('mutated vectors: decoded, or refused naming the field', async (t) => {
  checkProperty(t, 'a value of another kind', fc.property(targetAndPath, fc.jsonValue({ maxDepth: 2 }), ({ target, value, path }, replacement) => {
    const old = path.reduce<Json>((node, seg) => (node as Record<string, Json>)[seg] as Json, value)
    fc.pre(kindOf(old) !== kindOf(replacement as Json))
    const replaced = edited(value, path, (c, k) => { (c as Record<string, Json>)[k] = replacement as Json })
    const message = refusal(() => target.decoder.decode(JSON.stringify(replaced)))
    const field = message?.match(FIELD)?.[1]
    if (field !== undefined && !related(field, path)) throw new AssertionError({ message: `${message} (replaced ${formatPath(path)})` })
  }), 500)

  checkProperty(t, 'a key removed', fc.property(targetAndPath, ({ target, value, path }) => {
    const removed = edited(value, path, (c, k) => { if (Array.isArray(c)) c.splice(k as number, 1); else delete c[k] })
    const message = refusal(() => target.decoder.decode(JSON.stringify(removed)))
    const field = message?.match(FIELD)?.[1]
    if (field !== undefined && !related(field, path)) throw new AssertionError({ message: `${message} (removed ${formatPath(path)})` })
  }), 300)

  checkProperty(t, 'a float literal for a number', fc.property(targetAndPath, fc.constantFrom('1.0', '1e2', '-0', '2.5E-1'), ({ target, value, path }, float) => {
    const old = path.reduce<Json>((node, seg) => (node as Record<string, Json>)[seg] as Json, value)
    fc.pre(typeof old === 'number')
    const message = refusal(() => target.decoder.decode(spliced(value, path, float)))
    if (message !== undefined) match(message, new RegExp(`field \`${escape(formatPath(path))}\``))
  }), 300)

  checkProperty(t, 'strict JSON: a lone surrogate, deep nesting, a duplicate or __proto__ key: always refused', fc.property(
    targetAndPath,
    fc.constantFrom('surrogate', 'nesting', 'duplicate', 'proto'),
    ({ target, value, path }, kind) => {
      const parent = path.slice(0, -1)
      const parentNode = parent.reduce<Json>((node, seg) => (node as Record<string, Json>)[seg] as Json, value)
      if (kind === 'surrogate') {
        const message = refusal(() => target.decoder.decode(spliced(value, path, '"x\\udc00"')))
        match(message ?? '', new RegExp(`field \`${escape(formatPath(path))}\`: string contains a lone surrogate`))
      } else if (kind === 'nesting') {
        match(refusal(() => target.decoder.decode(spliced(value, path, `${'['.repeat(128)}${']'.repeat(128)}`))) ?? '', /nesting deeper than 127 levels/)
      } else {
        fc.pre(parentNode !== null && typeof parentNode === 'object' && !Array.isArray(parentNode))
        const key = path[path.length - 1] as string
        const extra = kind === 'duplicate' ? `${JSON.stringify(key)}:0` : '"__proto__":{}'
        const text = JSON.stringify(edited(value, [...parent, MARK], (c) => { (c as Record<string, Json>)[MARK] = 0 })).replace(`${MARK_JSON}:0`, extra)
        match(refusal(() => target.decoder.decode(text)) ?? '', kind === 'duplicate' ? /duplicate key/ : /forbidden key `__proto__`/)
      }
    }), 400)
})

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

// Characters whose low byte is a digit, comma, bracket, quote, colon or brace: latin1 reads them as such.
const POSERS = ['\u0131', '\u012c', '\u015b', '\u015d', '\u0122', '\u017d', '\u013a']
// Characters that matter to the scanners, and some that do not.
const CHARS = [...'{}[]":,\\-.0123456789eE truenull', '\t', '\n', 'é', '€', '😀', '\ud800', ...POSERS]
interface Edit { op: 'delete' | 'insert' | 'replace' | 'copy' | 'truncate', at: number, char?: string, length?: number }
const editWith = (chars: string[]): fc.Arbitrary<Edit> => fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constantFrom('insert' as const, 'replace' as const), at: fc.nat(), char: fc.constantFrom(...chars) }),
  fc.record({ op: fc.constant('copy' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() })
)

function applyEdit (text: string, e: Edit): string {
  const at = e.at % (text.length + 1)
  switch (e.op) {
    case 'delete': return text.slice(0, at) + text.slice(at + 1)
    case 'insert': return text.slice(0, at) + (e.char as string) + text.slice(at)
    case 'replace': return text.slice(0, at) + (e.char as string) + text.slice(at + 1)
    case 'copy': return text.slice(0, at) + text.slice(at, at + (e.length as number)) + text.slice(at)
    default: return text.slice(0, at)
  }
}

t.test('vectors edited character by character: decoded or refused, never accepted when not JSON', async (t) => {
  checkProperty(t, 'every decoder', fc.property(fc.constantFrom(...TARGETS), fc.array(editWith(CHARS), { minLength: 1, maxLength: 4 }), (target, edits) => {
    checkAllDecoders(edits.reduce(applyEdit, target.text))
  }), 500)
  // Mostly edits inside the body array, which the fast paths read without a JSON parser.
  checkProperty(t, 'a large http_request, for the fast paths', fc.property(fc.array(editWith([...'0123456789,[]', ...POSERS]), { minLength: 1, maxLength: 3 }), (edits) => {
    checkAllDecoders(edits.reduce(applyEdit, LARGE_REQUEST))
  }), 1000)
})

const OPS = ['init', 'heartbeat', 'shutdown', 'secret', 'rotated', 'http_request', 'port_response', 'service_response', 'service_operation_result',
  'routed_module_message', 'routed_module_response', 'register_service_provider_response', 'discover_service_providers_response',
  'announce', 'get_secret', 'heartbeat_ack', 'identify', 'Heartbeat', 'nope']
// Every key of every vector, so that generated objects hit the schemas' fields.
const KEYS = [...new Set(vectors.filter((v) => parses(v.wire_text as string))
  .flatMap((v) => pathsOf(JSON.parse(v.wire_text as string) as Json).map((p) => p[p.length - 1]).filter((k): k is string => typeof k === 'string')))]

t.test('arbitrary JSON: decoded or refused by every decoder', async (t) => {
  checkProperty(t, 'any JSON value', fc.property(fc.jsonValue(), (value) => { checkAllDecoders(JSON.stringify(value)) }), 300)
  checkProperty(t, 'message-shaped objects', fc.property(
    fc.constantFrom(...OPS),
    fc.dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 }),
    fc.option(fc.constantFrom('content', 'id')),
    (op, fields, envelope) => {
      const message = { op, ...fields }
      const value = envelope === null ? message : { id: '0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10', content: message, metadata: {} }
      checkAllDecoders(JSON.stringify(value))
    }), 500)
  checkProperty(t, 'any bytes in a frame of any format', fc.property(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 200 }), (format, payload) => {
    for (const decode of [decodeOrchestratorFrame, decodeModuleFrame]) refusal(() => decode(format, payload))
  }), 300)
})
