import { readFileSync } from 'node:fs'

/** Whether `pid` runs: it has a /proc entry that is not a zombie (a zombie already exited). */
export function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}
