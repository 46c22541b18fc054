/** The only reader of process.env in the codebase. */
export type Env = Readonly<Record<string, string | undefined>>;

export function readEnv(): Env {
  return { ...process.env };
}
