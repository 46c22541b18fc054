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
    ["maxCostUsd beyond what BIGINT micro-USD holds", { maxCostUsd: 1e30 }, "maxCostUsd"],
    ["maxCostUsd Infinity", { maxCostUsd: Infinity }, "maxCostUsd"],
    ["maxCostUsd NaN", { maxCostUsd: NaN }, "maxCostUsd"],
    ["negative maxCostUsd", { maxCostUsd: -1 }, "maxCostUsd"],
    ["requirements.maxCostUsd 1e30", { requirements: { maxCostUsd: 1e30 } }, "requirements.maxCostUsd"],
    ["deadlineSeconds past a timestamp", { deadlineSeconds: 1e12 }, "deadlineSeconds"],
    ["fractional deadlineSeconds", { deadlineSeconds: 1.5 }, "deadlineSeconds"],
    ["seed beyond INTEGER", { seed: 2 ** 31 }, "seed"],
    ["temperature Infinity", { text: { temperature: Infinity } }, "text.temperature"],
    ["maxTokens NaN", { text: { maxTokens: NaN } }, "text.maxTokens"],
    ["image count 1e9", { modality: "IMAGE" as const, model: "simulated/image", image: { count: 1e9 } }, "image.count"],
    ["NUL in an image URL", { prompt: null, messages: [{ role: "user", content: [{ type: "image_url", url: "https://x/a\u0000.png" }] }] }, "messages.0.content.0.url"],
    ["a newline in an image URL", { prompt: null, messages: [{ role: "user", content: [{ type: "image_url", url: "https://x/a\n.png" }] }] }, "messages[0].content[0].url"],
    ["a tab in an image URL", { prompt: null, messages: [{ role: "user", content: [{ type: "image_url", url: "https://x/\ta.png" }] }] }, "messages[0].content[0].url"],
    ["a C1 control in an image URL", { prompt: null, messages: [{ role: "user", content: [{ type: "image_url", url: "https://x/\u0085a.png" }] }] }, "messages[0].content[0].url"],
    ["a control character in video.imageUrl", { modality: "VIDEO" as const, model: "simulated/video", video: { imageUrl: "https://x/\u0001.png" } }, "video.imageUrl"],
    ["leading whitespace in video.imageUrl", { modality: "VIDEO" as const, model: "simulated/video", video: { imageUrl: " https://x/a.png" } }, "video.imageUrl"],
    ["a newline in callbackUrl", { callbackUrl: "https://hooks.example.com/\nx" }, "callbackUrl"],
    ["DEL in callbackUrl", { callbackUrl: "https://hooks.example.com/\u007f" }, "callbackUrl"],
  ])("rejects %s", (_name, cmd, field) => {
    expect(fieldOf(() => run(cmd as Partial<CreateGenerationCommand>))).toBe(field);
  });

  it("accepts messages with text and image parts", () => {
    const { request } = run({ prompt: null, messages: [{ role: "user", content: [{ type: "text", text: " look " }, { type: "image_url", url: "https://x/y.png" }] }] });
    expect(request.messages).toEqual([{ role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", url: "https://x/y.png" }] }]);
  });

  it("accepts the largest numbers storage holds", () => {
    expect(() => run({ maxCostUsd: 1e9, requirements: { maxCostUsd: 0 }, deadlineSeconds: 86_400, seed: -(2 ** 31), text: { temperature: 2, maxTokens: 1000 } })).not.toThrow();
  });
});
