import { readFile } from 'node:fs/promises'

/** One reading of the module, taken once a second. */
export interface Sample {
  /** Seconds since the load started. */
  t: number
  /** Resident set size, bytes (/proc/<pid>/status VmRSS; prom-client's `process_resident_memory_bytes` where there is no /proc). */
  rss: number
  /** V8 heap in use, bytes (`nodejs_heap_size_used_bytes`). */
  heapUsed: number
  /** libuv handles keeping the loop alive: sockets, timers, servers (`nodejs_active_handles_total`). */
  handles: number
  /** 99th percentile of the event-loop delay since the previous sample, ms (`nodejs_eventloop_lag_p99_seconds`: prom-client resets its histogram at each scrape). */
  loopP99: number
}

const METRICS = {
  rss: 'process_resident_memory_bytes',
  heapUsed: 'nodejs_heap_size_used_bytes',
  handles: 'nodejs_active_handles_total',
  loopP99: 'nodejs_eventloop_lag_p99_seconds'
} as const

/** The value of the unlabelled sample `name` in a Prometheus text exposition. */
function valueOf (exposition: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(exposition)
  if (m === null) throw new Error(`/metrics has no ${name}`)
  return Number(m[1])
}

async function vmRss (pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)
    return kib === null ? null : Number(kib[1]) * 1024
  } catch {
    return null
  }
}

/** Scrape the module's `GET /metrics` over its HTTP listener and read its RSS. */
export async function takeSample (listen: string, pid: number, t: number): Promise<Sample> {
  const res = await fetch(`http://${listen}/metrics`)
  const text = await res.text()
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`)
  return {
    t,
    rss: await vmRss(pid) ?? valueOf(text, METRICS.rss),
    heapUsed: valueOf(text, METRICS.heapUsed),
    handles: valueOf(text, METRICS.handles),
    loopP99: valueOf(text, METRICS.loopP99) * 1000
  }
}
