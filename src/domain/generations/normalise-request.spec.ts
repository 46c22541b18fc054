import { describe, expect, it } from "vitest";
import { GraphQLError } from "graphql";
import { ProviderRegistry } from "../../providers/registry";
import { SimulatedProvider } from "../../providers/simulated/simulated.provider";
import type { CreateGenerationCommand } from "./create-generation.command";
import { normaliseRequest } from "./normalise-request";

const registry = new ProviderRegistry([new SimulatedProvider()]);
const limits = { maxPromptChars: 50, maxMessages: 3, maxParamsBytes: 100, maxWaitSeconds: 60 };
const run = (cmd: Partial<CreateGenerationCommand>) =>
  normaliseRequest({ modality: "TEXT", model: "simulated/text", prompt: "hi", ...cmd } as CreateGenerationCommand, registry, limits);

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GraphQLError);
    expect((err as GraphQLError).extensions.code).toBe("BAD_USER_INPUT");
    return (err as GraphQLError).extensions.field as string;
  }
  throw new Error("expected a BAD_USER_INPUT error");
}

describe("normaliseRequest", () => {
  it("resolves the model and trims the prompt", () => {
    const { request, model } = run({ prompt: "  hello  " });
    expect(model.id).toBe("simulated/text");
    expect(request.model).toBe("text");
    expect(request.prompt).toBe("hello");
    expect(request.params).toEqual({});
  });

  it("fills media defaults", () => {
    const { request } = run({ modality: "IMAGE", model: "simulated/image", image: { width: 64 } });
    expect(request.image).toEqual({ width: 64, height: 512, count: 1 });
  });

  it.each([
    ["empty prompt", { prompt: "   " }, "prompt"],
    ["over-long prompt", { prompt: "x".repeat(51) }, "prompt"],
    ["no prompt or messages", { prompt: null }, "prompt"],
    ["unknown model", { model: "nope/nope" }, "model"],
    ["modality mismatch", { modality: "IMAGE" as const }, "model"],
    ["options for another modality", { image: { width: 10 } }, "image"],
    ["params not an object", { params: [1, 2] }, "params"],
    ["params too large", { params: { x: "y".repeat(200) } }, "params"],
    ["bad simulate options", { params: { simulate: { failRate: 7 } } }, "params"],
    ["wait too long", { wait: 61 }, "wait"],
    ["too many messages", { prompt: null, messages: Array(4).fill({ role: "user", content: [{ type: "text", text: "a" }] }) }, "messages"],
    ["bad role", { prompt: null, messages: [{ role: "robot", content: [{ type: "text", text: "a" }] }] }, "messages[0].role"],
    ["bad image url", { prompt: null, messages: [{ role: "user", content: [{ type: "image_url", url: "ftp://x" }] }] }, "messages[0].content[0]"],
  ])("rejects %s", (_name, cmd, field) => {
    expect(fieldOf(() => run(cmd as Partial<CreateGenerationCommand>))).toBe(field);
  });

  it("accepts messages with text and image parts", () => {
    const { request } = run({ prompt: null, messages: [{ role: "user", content: [{ type: "text", text: " look " }, { type: "image_url", url: "https://x/y.png" }] }] });
    expect(request.messages).toEqual([{ role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", url: "https://x/y.png" }] }]);
  });
});
