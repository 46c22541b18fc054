import { describe, expect, it } from "vitest";
import type { GenerationRequest, ModelInfo } from "../contract";
import { JSON_INSTRUCTION } from "../shared/text";
import { imageSource, messagesBody, toAnthropicMessage, toAnthropicTool, toAnthropicToolChoice } from "./request";

const req = (over: Partial<GenerationRequest>): GenerationRequest => ({ modality: "TEXT", model: "claude-haiku-4-5", params: {}, ...over });
const models = [{ name: "claude-haiku-4-5", maxOutputTokens: 64_000 }] as ModelInfo[];

describe("anthropic request mapping", () => {
  it("system text (request and system messages, plus the JSON instruction) goes to `system`; max_tokens from the request, the catalog or 1024", () => {
    const body = messagesBody("anthropic", req({
      system: "be brief",
      messages: [{ role: "system", content: [{ type: "text", text: "in French" }] }, { role: "user", content: [{ type: "text", text: "hi" }] }],
      text: { responseFormat: "JSON", temperature: 0.3 },
      params: { top_k: 5, stream: false },
    }), models);
    expect(body).toEqual({
      top_k: 5, model: "claude-haiku-4-5", max_tokens: 64_000, system: `be brief\n\nin French\n\n${JSON_INSTRUCTION}`,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
    expect(messagesBody("anthropic", req({ prompt: "x", text: { maxTokens: 5 } }), models).max_tokens).toBe(5);
    expect(messagesBody("anthropic", req({ model: "other", prompt: "x" }), models).max_tokens).toBe(1024);
    expect(() => messagesBody("anthropic", req({ system: "s" }), models)).toThrow(/needs a prompt or messages/);
  });

  it("a tool result goes back as user text; images only in user messages", () => {
    expect(toAnthropicMessage("anthropic", { role: "tool", content: [{ type: "text", text: "42" }] })).toEqual({ role: "user", content: [{ type: "text", text: "Tool result: 42" }] });
    expect(() => toAnthropicMessage("anthropic", { role: "assistant", content: [{ type: "image_url", url: "https://x/a.png" }] })).toThrow(/user messages only/);
    expect(() => toAnthropicMessage("anthropic", { role: "user", content: [{ type: "text", text: "" }] })).toThrow(/has no content/);
  });

  it("http(s) images are url sources, data: URLs base64 sources of an accepted type", () => {
    expect(imageSource("anthropic", "https://x/a.png")).toEqual({ type: "url", url: "https://x/a.png" });
    expect(imageSource("anthropic", "data:image/jpg;base64,aGk =")).toEqual({ type: "base64", media_type: "image/jpeg", data: "aGk=" });
    expect(() => imageSource("anthropic", "data:image/tiff;base64,aGk=")).toThrow(/not accepted/);
    expect(() => imageSource("anthropic", "ftp://x")).toThrow(/http\(s\) URL or a base64 data: URL/);
  });

  it("neutral stop and toolChoice in the Messages API's shape: stop_sequences, tool_choice (whichever door they came through)", () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    const body = messagesBody("anthropic", req({ prompt: "x", text: { tools, stop: ["END"], toolChoice: { type: "tool", name: "get_weather" } } }), models);
    expect(body).toMatchObject({ stop_sequences: ["END"], tool_choice: { type: "tool", name: "get_weather" }, tools: [{ name: "get_weather", input_schema: { type: "object" } }] });
    expect(body).not.toHaveProperty("stop");
    expect(toAnthropicToolChoice({ type: "required" })).toEqual({ type: "any" });
    expect(toAnthropicToolChoice({ type: "auto", disableParallel: true })).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(toAnthropicToolChoice({ type: "tool", name: "f", disableParallel: true })).toEqual({ type: "tool", name: "f", disable_parallel_tool_use: true });
    expect(toAnthropicToolChoice({ type: "none", disableParallel: true })).toEqual({ type: "none" });
    expect(messagesBody("anthropic", req({ prompt: "x", text: { stop: [] } }), models)).not.toHaveProperty("stop_sequences");
  });

  it("OpenAI function tools become Anthropic tools; Anthropic tools pass through", () => {
    expect(toAnthropicTool("anthropic", { type: "function", function: { name: "f", description: "d", parameters: { type: "object" } } }, 0)).toEqual({ name: "f", description: "d", input_schema: { type: "object" } });
    expect(toAnthropicTool("anthropic", { type: "function", function: { name: "g" } }, 0)).toEqual({ name: "g", input_schema: { type: "object", properties: {} } });
    const native = { name: "h", input_schema: { type: "object" } };
    expect(toAnthropicTool("anthropic", native, 0)).toBe(native);
    expect(() => toAnthropicTool("anthropic", { nope: true }, 2)).toThrow(/text.tools\[2\]/);
  });
});
