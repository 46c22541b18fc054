/** Money is integer micro-USD in storage and arithmetic; USD floats only at the API edge. */
export const MICROS_PER_USD = 1_000_000;

/**
 * The largest amount of money an input may name (a budget, a cost cap): $1e9 is 1e15
 * micro-USD, so sums of a few such amounts stay exact in a JS number (< 2^53) and fit BIGINT.
 */
export const MAX_USD = 1_000_000_000;

export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

export function usdToMicros(usd: number): number {
  return Math.round(usd * MICROS_PER_USD);
}
