import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { chatBody, embeddingBody, embeddingInputs, imageBody, maxTokensFieldFor, toOpenAIMessage } from "./request";

const req = (over: Partial<GenerationRequest>): GenerationRequest => ({ modality: "TEXT", model: "gpt-4o-mini", params: {}, ...over });

describe("openai-compatible request mapping", () => {
  it("OpenAI itself gets max_completion_tokens, other vendors max_tokens; a vendor extra naming the other field wins", () => {
    expect(maxTokensFieldFor("https://api.openai.com/v1")).toBe("max_completion_tokens");
    expect(maxTokensFieldFor("https://api.groq.com/openai/v1")).toBe("max_tokens");
    expect(maxTokensFieldFor("not a url")).toBe("max_tokens");
    const body = chatBody("groq", req({ prompt: "hi", text: { maxTokens: 9 }, params: { max_completion_tokens: 1 } }), "max_tokens");
    expect(body).toMatchObject({ max_completion_tokens: 9 });
    expect(body).not.toHaveProperty("max_tokens");
  });

  it("a chat body streams with usage; params never override what the adapter owns", () => {
    const body = chatBody("openai", req({ system: "be brief", prompt: "hi", seed: 3, text: { temperature: 0, responseFormat: "JSON" }, params: { model: "evil", stream: false, top_p: 0.1 } }), "max_tokens");
    expect(body).toEqual({
      top_p: 0.1, temperature: 0, response_format: { type: "json_object" }, seed: 3, model: "gpt-4o-mini",
      messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true },
    });
    expect(() => chatBody("openai", req({ system: "only system" }), "max_tokens")).toThrow(/needs a prompt or messages/);
  });

  it("JSON mode: a json_schema response_format passed in params is kept, not replaced by json_object", () => {
    const schema = { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" } } };
    expect(chatBody("openai", req({ prompt: "hi", text: { responseFormat: "JSON" }, params: { response_format: schema } }), "max_tokens").response_format).toEqual(schema);
    expect(chatBody("openai", req({ prompt: "hi", text: { responseFormat: "JSON" } }), "max_tokens").response_format).toEqual({ type: "json_object" });
  });

  it("neutral stop and toolChoice in chat completions' shape: stop, tool_choice, parallel_tool_calls (whichever door they came through)", () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    const body = chatBody("openai", req({ prompt: "hi", text: { tools, stop: ["\n\nHuman:"], toolChoice: { type: "tool", name: "get_weather", disableParallel: true } } }), "max_tokens");
    expect(body).toMatchObject({ stop: ["\n\nHuman:"], tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: false });
    expect(body).not.toHaveProperty("stop_sequences");
    expect(chatBody("openai", req({ prompt: "hi", text: { tools, toolChoice: { type: "required" } } }), "max_tokens")).toMatchObject({ tool_choice: "required" });
    expect(chatBody("openai", req({ prompt: "hi", text: { tools, toolChoice: { type: "none" } } }), "max_tokens")).not.toHaveProperty("parallel_tool_calls");
    const bare = chatBody("openai", req({ prompt: "hi", text: { toolChoice: { type: "auto", disableParallel: true }, stop: [] } }), "max_tokens");
    expect(bare.tool_choice).toBe("auto");
    expect(bare).not.toHaveProperty("parallel_tool_calls");
    expect(bare).not.toHaveProperty("stop");
  });

  it("user messages keep image parts; a tool message keeps a tool_call_id the caller added", () => {
    expect(toOpenAIMessage({ role: "user", content: [{ type: "text", text: "what is this" }, { type: "image_url", url: "https://x/a.png" }] })).toEqual({
      role: "user", content: [{ type: "text", text: "what is this" }, { type: "image_url", image_url: { url: "https://x/a.png" } }],
    });
    expect(toOpenAIMessage({ role: "user", content: [{ type: "text", text: "plain" }] })).toEqual({ role: "user", content: "plain" });
    const tool = { role: "tool" as const, content: [{ type: "text" as const, text: "42" }], toolCallId: "call_1" };
    expect(toOpenAIMessage(tool)).toEqual({ role: "tool", content: "42", tool_call_id: "call_1" });
  });

  it("embeddings: one model per batch, no empty input, explicit floats", () => {
    const reqs = [req({ modality: "EMBEDDING", model: "e", prompt: "a" }), req({ modality: "EMBEDDING", model: "e", prompt: "b" })];
    const inputs = embeddingInputs("openai", reqs);
    expect(embeddingBody(reqs, inputs)).toEqual({ model: "e", input: ["a", "b"], encoding_format: "float" });
    expect(embeddingBody(reqs.slice(0, 1), ["a"])).toMatchObject({ input: "a" });
    expect(() => embeddingInputs("openai", [reqs[0], req({ modality: "EMBEDDING", model: "f", prompt: "c" })])).toThrow(/one model/);
    expect(() => embeddingInputs("openai", [req({ modality: "EMBEDDING", model: "e", prompt: "" })])).toThrow(/input 0 is empty/);
  });

  it("images: size and count, b64_json except for gpt-image-*, style only when OpenAI knows it", () => {
    const image = { width: 1024, height: 1792, count: 2, style: "vivid" };
    expect(imageBody("openai", req({ modality: "IMAGE", model: "dall-e-3", prompt: "a fox", image }))).toEqual({
      model: "dall-e-3", prompt: "a fox", n: 2, size: "1024x1792", response_format: "b64_json", style: "vivid",
    });
    expect(imageBody("openai", req({ modality: "IMAGE", model: "gpt-image-1", prompt: "a fox", image: { ...image, style: "noir" } }))).not.toHaveProperty("response_format");
    expect(() => imageBody("openai", req({ modality: "IMAGE", model: "dall-e-3" }))).toThrow(/needs a prompt/);
  });
});
