// The part of autocannon's programmatic API the HTTP bench uses (the package ships no types).
declare module 'autocannon' {
  interface Options {
    url: string
    connections?: number
    /** Seconds. */
    duration?: number
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  /** Latencies are in milliseconds (recorded with 1 ms resolution). */
  interface Histogram {
    average: number
    min: number
    max: number
    p50: number
    p99: number
    total: number
  }

  interface Result {
    /** Seconds. */
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
    latency: Histogram
    requests: Histogram
  }

  function autocannon (opts: Options): Promise<Result>
  export default autocannon
}
