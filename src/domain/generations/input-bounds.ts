/**
 * The range of every number createGeneration takes, in one place: the API's input classes
 * declare them (class-validator) and normaliseRequest enforces them again for every other
 * caller. Each range is what storage and arithmetic hold: money at most MAX_USD (BIGINT
 * micro-USD, exact in a JS number), counts and seconds in INTEGER columns or JSON, and every
 * value finite (a GraphQL Float literal like 1e400 arrives as Infinity).
 */
import { MAX_USD } from "../../common/money";

export interface NumberBounds {
  min: number;
  max: number;
  /** A whole number. */
  int?: boolean;
}

export const INPUT_BOUNDS = {
  maxCostUsd: { min: 0, max: MAX_USD },
  "requirements.maxCostUsd": { min: 0, max: MAX_USD },
  "requirements.minQuality": { min: 0, max: 100, int: true },
  deadlineSeconds: { min: 1, max: 86_400, int: true },
  wait: { min: 0, max: 600, int: true },
  seed: { min: -2_147_483_648, max: 2_147_483_647, int: true },
  "text.temperature": { min: 0, max: 2 },
  "text.maxTokens": { min: 1, max: 200_000, int: true },
  "image.width": { min: 16, max: 4096, int: true },
  "image.height": { min: 16, max: 4096, int: true },
  "image.count": { min: 1, max: 10, int: true },
  "video.durationSeconds": { min: 1, max: 60, int: true },
  "audio.speed": { min: 0.25, max: 4 },
  "audio.durationSeconds": { min: 0.1, max: 600 },
} as const satisfies Record<string, NumberBounds>;

export type BoundedField = keyof typeof INPUT_BOUNDS;

/** Longest list any createGeneration list input may be (messages, fallbackModels, …) before the domain's own limits apply. */
export const MAX_LIST_INPUT = 10_000;

/** Why `v` is out of `field`'s bounds, or null when it is fine (null/undefined: not given). */
export function boundsProblem(field: BoundedField, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const b: NumberBounds = INPUT_BOUNDS[field];
  if (typeof v !== "number" || !Number.isFinite(v)) return `${field} must be a finite number`;
  if (b.int && !Number.isInteger(v)) return `${field} must be a whole number`;
  if (v < b.min || v > b.max) return `${field} must be between ${b.min} and ${b.max}`;
  return null;
}

/**
 * C0 controls, DEL and C1 controls. A URL parser silently drops tabs and newlines and strips
 * the ends: a URL that carries one is refused rather than quietly turned into another URL.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why the URL text is refused before any parsing, or null. */
export function urlTextProblem(field: string, url: string): string | null {
  if (CONTROL.test(url)) return `${field} contains a control character (NUL, tab, newline, …); send the URL exactly, percent-encoded`;
  if (url.trim() !== url) return `${field} has leading or trailing whitespace`;
  return null;
}
