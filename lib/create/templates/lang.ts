import type { Choices } from '../choices.js'

/** Pieces of text that differ between the TypeScript and the JavaScript variant of a file. */
export interface Lang {
  ext: 'ts' | 'js'
  /** `text` in TypeScript, nothing in JavaScript (a type annotation, a type import). */
  ts: (text: string) => string
  /** `text` in JavaScript, nothing in TypeScript (a JSDoc type). */
  js: (text: string) => string
  /** A whole line of TypeScript only: left out of the JavaScript variant. */
  tsLine: (text: string) => string | false
  /** A whole line of JavaScript only. */
  jsLine: (text: string) => string | false
}

export function lang (c: Choices): Lang {
  return {
    ext: c.typescript ? 'ts' : 'js',
    ts: (text) => c.typescript ? text : '',
    js: (text) => c.typescript ? '' : text,
    tsLine: (text) => c.typescript && text,
    jsLine: (text) => !c.typescript && text
  }
}

/** Lines joined with newlines; `false` (a feature not chosen) is left out, `''` is an empty line. */
export function lines (...parts: Array<string | false>): string {
  return parts.filter((p): p is string => p !== false).join('\n') + '\n'
}
