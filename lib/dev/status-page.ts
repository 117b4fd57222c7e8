import type { IncomingMessage, ServerResponse } from 'node:http'
import type { GatewayRequest } from './activity.js'
import type { ModuleSnapshot } from './module-host.js'
import type { RoutedCall } from './module-router.js'
import type { RouteConflict } from './routes.js'

/** The path of the status page; nothing under it goes to a module. */
export const STATUS_PATH = '/_pywatt'

/** Everything the status page shows (`/_pywatt/state.json`). */
export interface ClusterState {
  now: number
  gateway: string
  modules: ModuleSnapshot[]
  requests: GatewayRequest[]
  calls: RoutedCall[]
  /** The module router's counters, and requests it passed on that are not answered yet. */
  routing: { requests: number, answers: number, refused: number, unmatched: number, pending: number }
  conflicts: RouteConflict[]
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** `value` as HTML text or attribute value: module logs and announces are untrusted. */
export function escapeHtml (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

function ago (now: number, at: number | null): string {
  return at === null ? '-' : `${((now - at) / 1000).toFixed(1)} s ago`
}

function moduleRow (m: ModuleSnapshot, now: number): string {
  const uptime = m.startedAt === null ? '-' : `${Math.round((now - m.startedAt) / 1000)} s`
  const exit = m.lastExit === null ? '' : ` (last exit ${m.lastExit.signal ?? `code ${String(m.lastExit.code)}`})`
  const channels = m.channels.map((c) => `<span data-channel="${escapeHtml(c.kind)}" data-connected="${String(c.connected)}">${escapeHtml(c.kind)} ${escapeHtml(c.address)} ${c.connected ? 'connected' : 'down'} (${c.connections})</span>`).join('<br>')
  const endpoints = m.endpoints.map((e) => `<code>${escapeHtml(e.methods.join(','))} ${escapeHtml((m.mount ?? '') + e.path)}</code>`).join('<br>')
  return `<tr data-module="${escapeHtml(m.name)}" data-state="${escapeHtml(m.state)}">` +
    `<td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.state)}${escapeHtml(exit)}</td><td>${escapeHtml(m.pid ?? '-')}</td>` +
    `<td>${escapeHtml(uptime)}</td><td>${m.restarts}</td><td>${escapeHtml(m.via)}${m.mount === null ? '' : ` at ${escapeHtml(m.mount)}`}</td>` +
    `<td>${escapeHtml(ago(now, m.heartbeats.lastAckAt))} (${m.heartbeats.acked}/${m.heartbeats.sent})</td>` +
    `<td>${channels}${m.held > 0 ? `<br>${m.held} held` : ''}</td><td>${endpoints}</td></tr>`
}

function requestRow (r: GatewayRequest): string {
  return `<tr data-request data-method="${escapeHtml(r.method)}" data-path="${escapeHtml(r.path)}" data-status="${r.status}" data-module="${escapeHtml(r.module ?? '')}">` +
    `<td>${escapeHtml(new Date(r.at).toISOString().slice(11, 23))}</td><td>${escapeHtml(r.method)}</td><td>${escapeHtml(r.path)}</td>` +
    `<td>${escapeHtml(r.module ?? '-')}</td><td>${r.status}</td><td>${r.ms.toFixed(1)} ms</td></tr>`
}

function callRow (c: RoutedCall): string {
  return `<tr data-call data-caller="${escapeHtml(c.caller)}" data-target="${escapeHtml(c.target)}" data-endpoint="${escapeHtml(c.endpoint)}" data-outcome="${escapeHtml(c.outcome)}">` +
    `<td>${escapeHtml(new Date(c.at).toISOString().slice(11, 23))}</td><td>${escapeHtml(c.caller)}</td><td>${escapeHtml(c.target)}</td>` +
    `<td>${escapeHtml(c.endpoint)}</td><td>${escapeHtml(c.outcome)}</td><td>${c.ms} ms</td></tr>`
}

/** The page's live part (the script replaces it every second). */
export function statusFragment (state: ClusterState): string {
  const logs = state.modules.map((m) => `<h3>${escapeHtml(m.name)}</h3><pre data-logs="${escapeHtml(m.name)}">${m.logs.map(escapeHtml).join('\n')}</pre>`).join('')
  const conflicts = state.conflicts.map((c) => `<li data-conflict>${escapeHtml(c.method)} ${escapeHtml(c.path)}: ${escapeHtml(c.kept)} keeps it, ${escapeHtml(c.other)} also announced it</li>`).join('')
  return '<h2>Modules</h2><table id="modules"><tr><th>module</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th><th>via</th><th>last heartbeat ack</th><th>channels</th><th>endpoints</th></tr>' +
    state.modules.map((m) => moduleRow(m, state.now)).join('') + '</table>' +
    (conflicts === '' ? '' : `<h2>Route conflicts</h2><ul id="conflicts">${conflicts}</ul>`) +
    '<h2>Requests</h2><table id="requests"><tr><th>time</th><th>method</th><th>path</th><th>module</th><th>status</th><th>latency</th></tr>' +
    state.requests.map(requestRow).join('') + '</table>' +
    `<h2>Module-to-module calls</h2><p id="routing">${state.routing.requests} request(s), ${state.routing.answers} answer(s), ${state.routing.refused} answered by pywatt-dev, ${state.routing.pending} pending</p><table id="calls"><tr><th>time</th><th>caller</th><th>target</th><th>endpoint</th><th>outcome</th><th>latency</th></tr>` +
    state.calls.map(callRow).join('') + '</table>' +
    `<h2>Logs</h2>${logs}`
}

// The fragment is escaped on the server; the script only swaps it in.
const SCRIPT = `setInterval(async () => {
  try {
    const res = await fetch('${STATUS_PATH}/fragment', { cache: 'no-store' })
    if (res.ok) document.getElementById('live').innerHTML = await res.text()
  } catch {}
}, 1000)`

/** The whole status page. */
export function statusPage (state: ClusterState): string {
  return '<!doctype html><html><head><meta charset="utf-8"><title>pywatt-dev</title>' +
    '<style>body{font:14px system-ui,sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}pre{background:#f6f6f6;padding:4px;max-height:20em;overflow:auto}</style>' +
    `</head><body><h1>pywatt-dev</h1><p>gateway ${escapeHtml(state.gateway)}; state as JSON: <a href="${STATUS_PATH}/state.json">${STATUS_PATH}/state.json</a></p>` +
    `<main id="live">${statusFragment(state)}</main><script>${SCRIPT}</script></body></html>`
}

/** Answer a request under {@link STATUS_PATH}. */
export function serveStatus (req: IncomingMessage, res: ServerResponse, state: () => ClusterState): void {
  const path = (req.url ?? '').split('?')[0]
  const send = (status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') send(405, 'application/json', JSON.stringify({ error: 'the status page is read-only' }))
  else if (path === STATUS_PATH || path === `${STATUS_PATH}/`) send(200, 'text/html; charset=utf-8', statusPage(state()))
  else if (path === `${STATUS_PATH}/state.json`) send(200, 'application/json', JSON.stringify(state()))
  else if (path === `${STATUS_PATH}/fragment`) send(200, 'text/html; charset=utf-8', statusFragment(state()))
  else send(404, 'application/json', JSON.stringify({ error: `no status page at ${path}` }))
}
