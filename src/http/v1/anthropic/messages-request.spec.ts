import { describe, expect, it } from "vitest";
import { parseMessagesRequest } from "./messages-request";

const WEATHER = { name: "get_weather", input_schema: { type: "object" } };
const base = { model: "simulated/text", max_tokens: 64, messages: [{ role: "user", content: "Hi" }] };
const fieldOf = (body: unknown): unknown => {
  try {
    parseMessagesRequest(body);
  } catch (e) {
    return (e as { extensions: { code: string; field: string } }).extensions;
  }
  throw new Error("expected a refusal");
};

describe("parseMessagesRequest", () => {
  it("maps a minimal request to a TEXT command", () => {
    expect(parseMessagesRequest(base)).toEqual({
      stream: false, model: "simulated/text",
      cmd: { modality: "TEXT", model: "simulated/text", messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], system: undefined, text: { maxTokens: 64 } },
    });
  });

  it("requires max_tokens (400 invalid_request_error through BAD_USER_INPUT)", () => {
    const { max_tokens: _, ...rest } = base;
    expect(fieldOf(rest)).toEqual({ code: "BAD_USER_INPUT", field: "max_tokens" });
    expect(fieldOf({ ...base, max_tokens: 0 })).toMatchObject({ field: "max_tokens" });
    expect(fieldOf({ ...base, model: "" })).toMatchObject({ field: "model" });
    expect(fieldOf({ ...base, messages: [] })).toMatchObject({ field: "messages" });
    expect(fieldOf({ ...base, messages: [{ role: "system", content: "x" }] })).toMatchObject({ field: "messages.0.role" });
    expect(fieldOf({ ...base, temperature: 1.5 })).toMatchObject({ field: "temperature" });
    expect(fieldOf({ ...base, stream: "yes" })).toMatchObject({ field: "stream" });
  });

  it("joins system text blocks and maps text, image and tool blocks", () => {
    const r = parseMessagesRequest({
      ...base,
      system: [{ type: "text", text: "Be brief." }, { type: "text", text: "Be kind." }],
      temperature: 0.5,
      stream: true,
      messages: [
        { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } }, { type: "image", source: { type: "url", url: "https://x.test/a.png" } }] },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm" }, { type: "tool_use", id: "toolu_1", name: "look", input: { q: 1 } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "a cat" }] }] },
      ],
    });
    expect(r.stream).toBe(true);
    expect(r.cmd.system).toBe("Be brief.\n\nBe kind.");
    expect(r.cmd.text).toEqual({ maxTokens: 64, temperature: 0.5 });
    expect(r.cmd.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", url: "data:image/png;base64,iVBOR" }, { type: "image_url", url: "https://x.test/a.png" }] },
      { role: "assistant", content: [], toolCalls: [{ id: "toolu_1", name: "look", arguments: '{"q":1}' }] },
      { role: "tool", content: [{ type: "text", text: "a cat" }], toolCallId: "toolu_1" },
    ]);
    // A user turn's tool results become tool messages in order, the blocks between them user messages; is_error rides along.
    const mixed = parseMessagesRequest({
      ...base,
      messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "a", content: "1" }, { type: "tool_result", tool_use_id: "b", is_error: true }, { type: "text", text: "go on" }] }],
    });
    expect(mixed.cmd.messages).toEqual([
      { role: "tool", content: [{ type: "text", text: "1" }], toolCallId: "a" },
      { role: "tool", content: [], toolCallId: "b", toolError: true },
      { role: "user", content: [{ type: "text", text: "go on" }] },
    ]);
    expect(fieldOf({ ...base, messages: [{ role: "user", content: [{ type: "tool_result", content: "x" }] }] })).toMatchObject({ field: "messages.0.content.0.tool_use_id" });
    expect(fieldOf({ ...base, messages: [{ role: "assistant", content: [{ type: "tool_use", name: "f", input: {} }] }] })).toMatchObject({ field: "messages.0.content.0.id" });
    expect(fieldOf({ ...base, messages: [{ role: "user", content: [{ type: "tool_use", id: "x", name: "f", input: {} }] }] })).toMatchObject({ field: "messages.0.content.0" });
    expect(fieldOf({ ...base, messages: [{ role: "assistant", content: [{ type: "image", source: { type: "url", url: "https://x.test/a.png" } }] }] })).toMatchObject({ field: "messages.0.content.0" });
    expect(fieldOf({ ...base, messages: [{ role: "user", content: [{ type: "document", source: {} }] }] })).toMatchObject({ field: "messages.0.content.0.type" });
  });

  it("turns custom tools into function tools, keeps server tools; tool_choice and stop_sequences become the neutral text.toolChoice and text.stop", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const r = parseMessagesRequest({
      ...base,
      tools: [{ name: "get_weather", description: "Weather", input_schema: schema }, { type: "web_search_20250305", name: "web_search" }],
      tool_choice: { type: "tool", name: "get_weather" },
      stop_sequences: ["\n\nHuman:"],
      metadata: { user_id: "u-1" },
      top_k: 5,
    });
    expect(r.cmd.text?.tools).toEqual([
      { type: "function", function: { name: "get_weather", description: "Weather", parameters: schema } },
      { type: "web_search_20250305", name: "web_search" },
    ]);
    expect(r.cmd.text?.stop).toEqual(["\n\nHuman:"]);
    expect(r.cmd.text?.toolChoice).toEqual({ type: "tool", name: "get_weather" });
    expect(r.cmd.params).toBeUndefined();
    const any = parseMessagesRequest({ ...base, tools: [WEATHER], tool_choice: { type: "any", disable_parallel_tool_use: true } });
    expect(any.cmd.text?.toolChoice).toEqual({ type: "required", disableParallel: true });
    expect(parseMessagesRequest({ ...base, tool_choice: { type: "none" } }).cmd.text?.toolChoice).toEqual({ type: "none" });
    expect(fieldOf({ ...base, tools: [WEATHER], tool_choice: { type: "auto", disable_parallel_tool_use: "yes" } })).toMatchObject({ field: "tool_choice.disable_parallel_tool_use" });
    expect(fieldOf({ ...base, tools: [{ name: "x" }] })).toMatchObject({ field: "tools.0.input_schema" });
    expect(fieldOf({ ...base, tool_choice: { type: "any" } })).toMatchObject({ field: "tool_choice" });
    expect(fieldOf({ ...base, metadata: { user_id: 3 } })).toMatchObject({ field: "metadata" });
  });
});
