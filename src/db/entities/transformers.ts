import type { ValueTransformer } from "typeorm";

/** BIGINT micro-USD arrives from pg as a string; amounts stay far below 2^53. */
export const bigintNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null || v === undefined ? v : Number(v)),
};
