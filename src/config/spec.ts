/**
 * The declarative config spec. A setting is one {@link Field} that writes its variable, default
 * and bounds once (`int("SWEEP_INTERVAL_MS", 15_000, 100)`); a section is a (nested) object of
 * fields with the setting's TSDoc on its property; the section's TS type is derived from it
 * ({@link ConfigOf}), so the doc and the line with the default are what a consumer's
 * hover / go-to-definition shows. The README check reads the variables and defaults from here.
 */
import type { Reader } from "./reader";

/** What defaults may depend on; read before any section. */
export interface ConfigContext {
  nodeEnv: "development" | "production" | "test";
  port: number;
}

/** A default computed from the context, with the text the README shows for it. */
export interface Computed<T> {
  readonly shown: string;
  of(ctx: ConfigContext): T;
}
export const computed = <T>(shown: string, of: (ctx: ConfigContext) => T): Computed<T> => ({ shown, of });

type Def<T> = T | Computed<T>;

/** A variable a field reads: its name (or documented pattern) and the default the README must show. */
export interface VarDoc {
  readonly name: string;
  /** The README's default for it: the literal value in backticks, or a computed default's text; undefined: none. */
  readonly shown?: string;
}

export class Field<T, Opt extends boolean = false> {
  constructor(
    readonly vars: readonly VarDoc[],
    private readonly readFn: (r: Reader, ctx: ConfigContext) => T,
    /** Whether the config field is optional (`?:`): unset means absent. */
    readonly optional: Opt,
  ) {}

  read(r: Reader, ctx: ConfigContext): T {
    return this.readFn(r, ctx);
  }

  /** The same variables, the value transformed (a trailing slash trimmed, a list parsed; `r` for problems). */
  map<U>(fn: (v: T, r: Reader) => U): Field<U, Opt> {
    return new Field(this.vars, (r, ctx) => fn(this.readFn(r, ctx), r), this.optional);
  }
}

function field<T>(name: string, def: Def<T>, read: (r: Reader, def: T) => T): Field<T> {
  const isComputed = (d: Def<T>): d is Computed<T> => typeof d === "object" && d !== null && "of" in d;
  const shown = isComputed(def) ? def.shown : def === "" ? undefined : `\`${String(def)}\``; // "": none
  return new Field([{ name, shown }], (r, ctx) => read(r, isComputed(def) ? def.of(ctx) : def), false);
}

export const int = (name: string, def: Def<number>, min = 0, max = Number.MAX_SAFE_INTEGER): Field<number> =>
  field(name, def, (r, d) => r.int(name, d, min, max));
export const num = (name: string, def: Def<number>, min = 0, max = Number.MAX_SAFE_INTEGER): Field<number> =>
  field(name, def, (r, d) => r.num(name, d, min, max));
export const str = (name: string, def: Def<string>): Field<string> => field(name, def, (r, d) => r.str(name, d));
export const bool = (name: string, def: Def<boolean>): Field<boolean> => field(name, def, (r, d) => r.bool(name, d));
export const oneOf = <T extends string>(name: string, def: Def<T>, allowed: readonly T[]): Field<T> =>
  field(name, def, (r, d) => r.oneOf(name, d, allowed));
export const url = (name: string, def: Def<string>, protocols: readonly string[]): Field<string> =>
  field(name, def, (r, d) => r.url(name, d, protocols));

/** An optional string: unset or empty is undefined. */
export const opt = (name: string): Field<string | undefined, true> => new Field([{ name }], (r) => r.opt(name), true);
/** An optional URL, checked only when set. */
export const optUrl = (name: string, protocols: readonly string[]): Field<string | undefined, true> =>
  new Field([{ name }], (r) => (r.opt(name) ? r.url(name, "", protocols) : undefined), true);
/** A comma-separated list, entries trimmed, empty ones dropped; default none. */
export const list = (name: string): Field<string[]> =>
  new Field([{ name }], (r) => r.str(name, "").split(",").map((x) => x.trim()).filter(Boolean), false);
/** Variables found by scanning the environment (`<PROVIDER>_API_KEY` …), documented by their patterns. */
export const scan = <T>(patterns: readonly string[], read: (r: Reader) => T): Field<T> =>
  new Field(patterns.map((name) => ({ name })), (r) => read(r), false);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyField = Field<any, boolean>;
export interface Spec {
  readonly [key: string]: AnyField | Spec;
}

type ValueOf<F> = F extends Field<infer T, boolean> ? T : F extends Spec ? ConfigOf<F> : never;
type OptionalKeys<S> = { [K in keyof S]: S[K] extends Field<unknown, true> ? K : never }[keyof S];

/** The config type a spec produces: optional fields become `?:`, nested specs nested objects. */
export type ConfigOf<S> = [OptionalKeys<S>] extends [never]
  ? { [K in keyof S]: ValueOf<S[K]> }
  : Flatten<
      { [K in keyof S as K extends OptionalKeys<S> ? never : K]: ValueOf<S[K]> } & {
        [K in keyof S as K extends OptionalKeys<S> ? K : never]?: Exclude<ValueOf<S[K]>, undefined>;
      }
    >;
type Flatten<T> = { [K in keyof T]: T[K] };

/** Reads every field of a spec (unset optional fields are present as undefined, as before the spec existed). */
export function readSpec<S extends Spec>(spec: S, r: Reader, ctx: ConfigContext): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(spec)) out[key] = f instanceof Field ? f.read(r, ctx) : readSpec(f, r, ctx);
  return out as ConfigOf<S>;
}

/** Every variable a spec reads, in declaration order. */
export function varsOf(spec: Spec): VarDoc[] {
  return Object.values(spec).flatMap((f) => (f instanceof Field ? f.vars : varsOf(f)));
}
