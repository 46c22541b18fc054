/**
 * OpenAI's moderation endpoint, faked: POST /v1/moderations in OpenAI's documented wire format
 * (`{ id, model, results: [{ flagged, categories, category_scores, category_applied_input_types }] }`,
 * one result per input, every category key present). Mounted by the OpenAI fake (openai.fake.ts);
 * its behaviour is per server and independent of the server's chat scenario, so a test can take
 * the classifier down while generation still works:
 *
 * - `moderationOf(server).flag(text)` → the categories that flag a text (default: the marker
 *   `[flag:<category>]`, e.g. `[flag:violence]`; tests replace it);
 * - `moderationOf(server).scenario`: ok | 503 (OpenAI's error body) | slow (10 s, unless aborted) | malformed;
 *   `scenarioFor(inputs)` picks one per call.
 */
import type http from "node:http";
import { sendJson, slow, type FakeProviderServer, type RecordedRequest } from "./fake-server";

/** OpenAI's moderation categories (omni-moderation-latest). */
export const OPENAI_MODERATION_CATEGORIES = [
  "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
  "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic",
] as const;

export type ModerationScenario = "ok" | "503" | "slow" | "malformed";

export interface ModerationFakeState {
  scenario: ModerationScenario;
  /** Per call, overriding `scenario` (e.g. down only for outputs); undefined: `scenario`. */
  scenarioFor?: (inputs: string[]) => ModerationScenario | undefined;
  flag: (text: string) => string[];
  /** Inputs received, in order (every call's `input`, flattened). */
  inputs: string[];
  calls: number;
}

const MARKER = /\[flag:([a-z/-]+)\]/g;
const states = new WeakMap<FakeProviderServer, ModerationFakeState>();

export function moderationOf(server: FakeProviderServer): ModerationFakeState {
  let s = states.get(server);
  if (!s) states.set(server, (s = { scenario: "ok", flag: (t) => [...t.matchAll(MARKER)].map((m) => m[1]), inputs: [], calls: 0 }));
  return s;
}

function inputsOf(body: unknown): string[] {
  const input = (body as { input?: unknown } | undefined)?.input;
  if (typeof input === "string") return [input];
  if (Array.isArray(input)) return input.map((x) => (typeof x === "string" ? x : (x as { type?: string; text?: string })?.type === "text" ? String((x as { text?: string }).text ?? "") : "[image]"));
  return [];
}

export function answerModeration(req: RecordedRequest, res: http.ServerResponse, server: FakeProviderServer): void {
  const state = moderationOf(server);
  state.calls++;
  const inputs = inputsOf(req.body);
  if (!inputs.length) return sendJson(res, 400, { error: { message: "'input' is a required property", type: "invalid_request_error", param: "input", code: null } });
  state.inputs.push(...inputs);
  const scenario = state.scenarioFor?.(inputs) ?? state.scenario;
  if (scenario === "503") return sendJson(res, 503, { error: { message: "The server is overloaded or not ready yet.", type: "server_error", param: null, code: null } });
  if (scenario === "malformed") return sendJson(res, 200, `{"id":"modr-x","results":[`);
  const answer = () => {
    const model = String((req.body as { model?: unknown } | undefined)?.model ?? "omni-moderation-latest");
    const results = inputs.map((text) => {
      const hit = new Set(state.flag(text));
      const categories = Object.fromEntries(OPENAI_MODERATION_CATEGORIES.map((c) => [c, hit.has(c)]));
      const scores = Object.fromEntries(OPENAI_MODERATION_CATEGORIES.map((c) => [c, hit.has(c) ? 0.97 : 0.0004]));
      const applied = Object.fromEntries(OPENAI_MODERATION_CATEGORIES.map((c) => [c, ["text"]]));
      return { flagged: hit.size > 0, categories, category_scores: scores, category_applied_input_types: applied };
    });
    sendJson(res, 200, { id: `modr-${state.calls}`, model: model.startsWith("omni") ? `${model.replace(/-latest$/, "")}-2024-09-26` : model, results });
  };
  if (scenario === "slow") return slow(res, answer);
  answer();
}
