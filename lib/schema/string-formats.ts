import { isIPv4, isIPv6 } from 'node:net'

/*
 * Checks for the JSON Schema string formats a Fastify route schema takes for
 * granted (its validator brings them), for the schemas fastify-pywatt checks
 * with TypeBox: the typed configuration and module-to-module payloads. TypeBox
 * itself knows no format, so without these a `format: 'uri'` field would fail
 * every value.
 */

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isDate (text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (m === null) return false
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (month < 1 || month > 12 || day < 1 || day > (DAYS[month - 1] as number)) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  return month !== 2 || day !== 29 || leap
}

/** HH:MM:SS with optional fraction; the offset (`Z`, `+01:00`) is required in a date-time. */
function isTime (text: string, offsetRequired = false): boolean {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(z|[+-](\d{2}):(\d{2}))?$/i.exec(text)
  if (m === null) return false
  if (offsetRequired && m[4] === undefined) return false
  const [hour, minute, second] = [Number(m[1]), Number(m[2]), Number(m[3])]
  // 60 is a leap second.
  if (hour > 23 || minute > 59 || second > 60) return false
  return m[5] === undefined || (Number(m[5]) <= 23 && Number(m[6]) <= 59)
}

function isDateTime (text: string): boolean {
  const at = text.search(/[tT ]/)
  return at !== -1 && isDate(text.slice(0, at)) && isTime(text.slice(at + 1), true)
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`, 'i')

function isHostname (text: string): boolean {
  return text.length <= 253 && HOSTNAME.test(text)
}

// The local part allows what mail systems take unquoted; the domain is a hostname with at least two labels.
const LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i

function isEmail (text: string): boolean {
  const at = text.lastIndexOf('@')
  if (at < 1 || at > 64) return false
  const domain = text.slice(at + 1)
  return LOCAL.test(text.slice(0, at)) && domain.includes('.') && !domain.endsWith('.') && isHostname(domain)
}

/** An absolute URI: a scheme and what the WHATWG URL parser accepts after it. */
function isUri (text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(text) && !/\s/.test(text) && URL.canParse(text)
}

const UUID = /^(?:urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function isRegex (text: string): boolean {
  try {
    // eslint-disable-next-line no-new -- compiling is the check
    new RegExp(text, 'u')
    return true
  } catch {
    return false
  }
}

/** Format name → check, registered with TypeBox where no check of that name is registered yet. */
export const STRING_FORMATS: Readonly<Record<string, (text: string) => boolean>> = {
  date: isDate,
  time: (text) => isTime(text),
  'date-time': isDateTime,
  email: isEmail,
  hostname: isHostname,
  ipv4: isIPv4,
  ipv6: isIPv6,
  uri: isUri,
  url: isUri,
  uuid: (text) => UUID.test(text),
  regex: isRegex
}
