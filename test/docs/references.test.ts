import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Code, tests and the docs cite docs/protocol.md by section (`docs/protocol.md
 * §9.2`, `§3.2, §5`) and docs/reliability.md by id (`docs/reliability.md H6`,
 * test titles starting with `T8 …`). Every citation must name a section or an
 * id the document defines, so that the docs stand on their own.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SOURCE_DIRS = ['lib', 'plugins', 'test', 'bin', 'example', 'bench']
const SELF = 'test/docs/references.test.ts'

type Doc = 'protocol' | 'reliability'

interface Reference { file: string, line: number, doc: Doc, item: string }

function read (path: string): string {
  return readFileSync(join(ROOT, path), 'utf8')
}

function walk (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) out.push(...walk(path))
    else if (/\.(ts|js|json|md)$/.test(entry.name)) out.push(path)
  }
  return out
}

/** `## 9.2 The reply` → `9.2`; `### H6. EPIPE …` → `H6`. */
function defined (markdown: string, pattern: RegExp): Set<string> {
  return new Set([...markdown.matchAll(pattern)].map((m) => m[1] as string))
}

const SECTIONS = defined(read('docs/protocol.md'), /^#{2,4} (\d+(?:\.\d+)*)\.? /gm)
const IDS = defined(read('docs/reliability.md'), /^#{2,4} ([HTI]\d+)\. /gm)

function exists (doc: Doc, item: string): boolean {
  return doc === 'protocol' ? item.startsWith('§') && SECTIONS.has(item.slice(1)) : IDS.has(item)
}

const ITEM = /§\d+(?:\.\d+)*|[HTI]\d+\b/g

/**
 * Every citation in `text`: a document name followed by a list of sections or
 * ids, separated by commas, spaces, "and", or comment markers at a line break.
 * In code the name is `docs/…` (its slash may be escaped in a regex literal);
 * inside docs/ a bare `protocol.md` or a Markdown link to it counts too.
 */
function references (file: string, text: string, bare: boolean): { refs: Reference[], rest: string } {
  const name = bare ? String.raw`(?:docs\\?/)?` : String.raw`docs\\?/`
  const citation = new RegExp(String.raw`${name}(protocol|reliability)\.md\)?((?:[\s,*/(]+(?:and\s+)?(?:§\d+(?:\.\d+)*|[HTI]\d+\b))+)`, 'g')
  const refs: Reference[] = []
  const rest = text.replace(citation, (match, doc: Doc, list: string, offset: number) => {
    const line = text.slice(0, offset).split('\n').length
    for (const [item] of list.matchAll(ITEM)) refs.push({ file, line, doc, item })
    return ' '.repeat(match.length)
  })
  return { refs, rest }
}

function where (file: string, text: string, index: number): string {
  return `${file}:${text.slice(0, index).split('\n').length}`
}

t.test('the documents define sections and ids', async (t) => {
  t.ok(SECTIONS.size >= 17 && SECTIONS.has('9.2'), `docs/protocol.md: ${SECTIONS.size} sections`)
  t.ok(IDS.has('H1') && IDS.has('T1') && IDS.has('I1'), `docs/reliability.md: ${IDS.size} ids`)
})

t.test('a citation of a missing section or id is reported', async (t) => {
  const { refs } = references('x.ts', '// docs/protocol.md §9.2, §99.1 and docs/reliability.md H6, H999, T8', false)
  t.same(refs.filter((r) => !exists(r.doc, r.item)).map((r) => r.item), ['§99.1', 'H999'])
  t.same(references('x.ts', 'docs/protocol.md H6', false).refs.filter((r) => !exists(r.doc, r.item)).map((r) => r.item), ['H6'], 'an id is not a section')
})

t.test('every citation in code, tests and benches points at a section or id that exists', async (t) => {
  const files = SOURCE_DIRS.flatMap(walk).filter((f) => f !== SELF)
  let count = 0
  for (const file of files) {
    const text = read(file)
    const { refs, rest } = references(file, text, false)
    count += refs.length
    for (const ref of refs) t.ok(exists(ref.doc, ref.item), `${ref.file}:${ref.line}: docs/${ref.doc}.md ${ref.item}`)
    // Every other § is either an RFC's or a citation without its document.
    for (const m of rest.replace(/RFC \d+[\s*/]*§\d+(?:\.\d+)*/g, '').matchAll(/§/g)) {
      t.fail(`${where(file, rest, m.index)}: a § that names no document`)
    }
    for (const m of text.matchAll(/\b(?:PROTOCOL|RELIABILITY)\.md/g)) {
      t.fail(`${where(file, text, m.index)}: ${m[0]} is not in this repository; cite docs/protocol.md or docs/reliability.md`)
    }
  }
  t.ok(count > 100, `${count} citations checked`)
})

t.test('every T id in a test title is defined in docs/reliability.md', async (t) => {
  const files = walk('test').filter((f) => f.endsWith('.test.ts'))
  let count = 0
  for (const file of files) {
    const text = read(file)
    for (const m of text.matchAll(/\.test\(\s*['"`](T\d+(?:\/T\d+)*)\b/g)) {
      for (const id of (m[1] as string).split('/')) {
        count++
        t.ok(IDS.has(id), `${where(file, text, m.index)}: ${id}`)
      }
    }
  }
  t.ok(count > 15, `${count} titled cases checked`)
})

t.test('the docs cite sections, ids and files that exist', async (t) => {
  for (const doc of ['docs/protocol.md', 'docs/reliability.md', 'README.md']) {
    const text = read(doc)
    const { refs, rest } = references(doc, text, true)
    for (const ref of refs) t.ok(exists(ref.doc, ref.item), `${ref.file}:${ref.line}: ${ref.doc}.md ${ref.item}`)
    if (doc === 'README.md') continue
    // Inside the docs a bare § is a section of docs/protocol.md, and H/T/I ids are docs/reliability.md's.
    for (const m of rest.matchAll(/§(\d+(?:\.\d+)*)/g)) t.ok(SECTIONS.has(m[1] as string), `${where(doc, rest, m.index)}: §${m[1]}`)
    for (const m of rest.matchAll(/\b([HTI]\d{1,2})\b/g)) t.ok(IDS.has(m[1] as string), `${where(doc, rest, m.index)}: ${m[1]}`)
    for (const m of text.matchAll(/`((?:lib|plugins|test|bin|example|bench)\/[^`*\s]+)`/g)) {
      t.ok(existsSync(join(ROOT, m[1] as string)), `${where(doc, text, m.index)}: ${m[1]} exists`)
    }
  }
})
