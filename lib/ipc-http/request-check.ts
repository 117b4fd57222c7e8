import { validateHeaderName } from 'node:http'

const METHOD = /^[A-Z][A-Z0-9!#$%&'*+.^_`|~-]*$/
// Node's parser takes a request target of visible ASCII only: no space, no
// control character, no raw non-ASCII (a client percent-encodes it).
const URI = /^\/[\x21-\x7e]*$/
// Node's parser takes a tab in a header value, and no other control character
// (non-ASCII is bytes there, taken as they come).
const VALUE_CONTROL = /[^\t\x20-\x7e\x80-\uffff]/
// Enough of a bad header name to recognise it in a 400 body or a log.
const NAME_SHOWN = 64

/**
 * Why a request cannot be served (the text of its 400), or `null` when it can.
 * Refuses what Node's HTTP parser refuses, so that nothing reaches the routes
 * over IPC that could not reach them over HTTP: a method that is not an
 * upper-case token, a URI that is not an origin-form path of visible ASCII, a
 * header name that is not a token, a header value with a control character
 * (CR, LF and NUL among them). A header is named, its value never shown: it
 * may be a credential.
 */
export function requestProblem (method: string, uri: string, headers: Readonly<Record<string, string>>): string | null {
  if (!METHOD.test(method)) return 'not a valid request line: method must be an upper-case token'
  if (!URI.test(uri)) return 'not a valid request line: uri must start with \'/\' and hold only visible ASCII (no spaces or control characters)'
  for (const [name, value] of Object.entries(headers)) {
    if (!isHeaderName(name)) return `header ${JSON.stringify(name.slice(0, NAME_SHOWN))}: not a valid header name`
    if (VALUE_CONTROL.test(value)) return `header ${JSON.stringify(name)}: its value contains a control character`
  }
  return null
}

function isHeaderName (name: string): boolean {
  try {
    validateHeaderName(name)
    return true
  } catch {
    return false
  }
}
