/**
 * Reads typed values out of an {@link Env}, collecting every problem instead of throwing at the
 * first, so `loadConfig` can report all of them together. Only the config spec uses it.
 */
import type { Env } from "./env";

export class ConfigError extends Error {
  constructor(problems: string[]) {
    // One problem is one line; several are listed together.
    super(problems.length === 1 ? `Invalid configuration: ${problems[0]}` : `Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export class Reader {
  readonly problems: string[] = [];
  constructor(readonly env: Env) {}

  /** Records a problem once (a value read twice, e.g. PORT for the defaults that depend on it, is reported once). */
  problem(message: string): void {
    if (!this.problems.includes(message)) this.problems.push(message);
  }

  str(name: string, def: string): string {
    const v = this.env[name];
    return v === undefined || v === "" ? def : v;
  }
  opt(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === "" ? undefined : v;
  }
  int(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(name, def, min, max, Number.isInteger, "an integer");
  }
  num(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(name, def, min, max, Number.isFinite, "a number");
  }
  private number(name: string, def: number, min: number, max: number, valid: (n: number) => boolean, what: string): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    const n = Number(raw);
    if (!valid(n) || n < min || n > max) {
      this.problem(`${name} must be ${what} between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  }
  bool(name: string, def: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.problem(`${name} must be true or false (got "${raw}")`);
    return def;
  }
  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problem(`${name} must be one of ${allowed.join(", ")} (got "${raw}")`);
      return def;
    }
    return raw as T;
  }
  url(name: string, def: string, protocols: readonly string[]): string {
    const raw = this.str(name, def);
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) throw new Error("protocol");
    } catch {
      this.problem(`${name} must be a ${protocols.join(" or ")} URL (got "${raw}")`);
    }
    return raw;
  }
}
