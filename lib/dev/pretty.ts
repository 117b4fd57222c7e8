const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg'])

/** One module stderr line, made readable: JSON log lines become `HH:MM:SS LEVEL msg {fields}`. */
export function prettyLogLine (line: string): string {
  let entry: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(line)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line
    entry = parsed as Record<string, unknown>
  } catch {
    return line
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : '--:--:--'
  const level = LEVELS[entry.level as number] ?? String(entry.level ?? '')
  const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !SKIP.has(k)))
  const extra = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : ''
  return `${time} ${level.padEnd(5)} ${String(entry.msg ?? '')}${extra}`
}

/** The announced endpoints as a table. */
export function endpointTable (listen: string, endpoints: ReadonlyArray<{ path: string, methods: string[], auth?: string }>): string {
  const rows = endpoints.map((e) => [e.methods.join(','), e.path, e.auth ?? ''])
  const widths = [7, 4].map((min, i) => Math.max(min, ...rows.map((r) => r[i].length)))
  const lines = [`module announced ${listen} with ${endpoints.length} endpoint(s):`, `  ${'METHODS'.padEnd(widths[0])}  ${'PATH'.padEnd(widths[1])}  AUTH`]
  for (const [methods, path, auth] of rows) lines.push(`  ${methods.padEnd(widths[0])}  ${path.padEnd(widths[1])}  ${auth}`)
  return lines.join('\n')
}

/** The names the probe and scrape routes go by. */
const OBSERVABILITY = /\/(health|healthz|ready|readyz|metrics)$/

/** One line pointing at the module's probes and metrics through the gateway, or `null` when it announced none. */
export function observabilityLine (gateway: string, endpoints: ReadonlyArray<{ path: string }>): string | null {
  const urls = endpoints.filter((e) => OBSERVABILITY.test(e.path)).map((e) => `${gateway}${e.path}`)
  return urls.length === 0 ? null : `probes and metrics: ${urls.join('  ')}`
}

// Cyan, magenta, yellow, green, blue, red: distinct on dark and light terminals.
const COLOURS = [36, 35, 33, 32, 34, 31]

/** The prefix of a module's log lines: its name padded to `width`, in the module's colour when `colour`. */
export function modulePrefix (name: string, index: number, width: number, colour: boolean): string {
  const label = `${name.padEnd(width)} |`
  return colour ? `\u001b[${COLOURS[index % COLOURS.length] as number}m${label}\u001b[0m` : label
}

/** Whether to colour output: FORCE_COLOR set (and not 0), else a TTY. */
export function useColour (out: NodeJS.WritableStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false'
  return (out as { isTTY?: boolean }).isTTY === true
}
