import type { Registry } from 'prom-client'
import type { SloTracker } from '../slo/tracker.js'
import { collected, type Sample } from './collected.js'

/**
 * The objectives as metrics, read at scrape time: the target, the share of
 * the error budget left, the burn rate over each window, whether a fast burn
 * is on, and how many began. Returns the metric names.
 */
export function defineSloMetrics (registry: Registry, slo: SloTracker): string[] {
  // One status read per scrape serves every metric of it.
  let cached: { at: number, samples: ReturnType<SloTracker['status']> } | null = null
  const status = (): ReturnType<SloTracker['status']> => {
    const now = Date.now()
    if (cached === null || now - cached.at > 100) cached = { at: now, samples: slo.status() }
    return cached.samples
  }
  const per = (value: (s: ReturnType<SloTracker['status']>[number]) => number) => (): Sample[] => status().map((s) => [{ slo: s.name }, value(s)])
  return [
    collected(registry, 'gauge', 'pywatt_slo_objective_ratio', 'The fraction of requests an objective wants good.', ['slo'], per((s) => s.target)),
    collected(registry, 'gauge', 'pywatt_slo_error_budget_remaining_ratio', 'The fraction of the error budget not spent in the budget window (below 0 when overspent).', ['slo'], per((s) => s.budgetRemaining)),
    collected(registry, 'gauge', 'pywatt_slo_burn_rate', 'How fast the error budget burns: 1 spends it exactly over the budget window.', ['slo', 'window'], () =>
      status().flatMap((s): Sample[] => [[{ slo: s.name, window: 'short' }, s.burnRate.short], [{ slo: s.name, window: 'long' }, s.burnRate.long]])),
    collected(registry, 'gauge', 'pywatt_slo_breached', '1 while both windows burn faster than the alert threshold.', ['slo'], per((s) => s.breached ? 1 : 0)),
    collected(registry, 'counter', 'pywatt_slo_breaches_total', 'Fast burns that began.', ['slo'], per((s) => s.breaches))
  ]
}
