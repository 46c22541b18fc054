import { describe, expect, it } from "vitest";
import { toChatCommand } from "./chat-completions.request";

const param = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { extensions?: { field?: string } }).extensions?.field;
  }
  return undefined;
};

describe("chat completions request → command", () => {
  it("maps messages, options, response formats and tools; passes the rest as params", () => {
    const tools = [{ type: "function", function: { name: "f", parameters: {} } }];
    const { command, stream, includeUsage } = toChatCommand({
      model: "auto", messages: [
        { role: "developer", content: "rules" },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "https://x/y.png" } }] },
      ],
      temperature: 0.3, max_completion_tokens: 50, seed: 4, tools, tool_choice: "auto", stop: ["\n"], top_p: 0.9,
      response_format: { type: "json_object" }, stream: true, stream_options: { include_usage: true },
    }, { priority: "LOW" });
    expect(stream).toBe(true);
    expect(includeUsage).toBe(true);
    expect(command).toEqual({
      modality: "TEXT", model: "auto", system: "rules",
      messages: [{ role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", url: "https://x/y.png" }] }],
      text: { temperature: 0.3, maxTokens: 50, responseFormat: "JSON", tools, stop: ["\n"], toolChoice: { type: "auto" } }, seed: 4,
      params: { top_p: 0.9 }, priority: "LOW",
    });
  });

  it("stop and tool_choice become the neutral text.stop and text.toolChoice (any vendor can serve them)", () => {
    const ok = { model: "m", messages: [{ role: "user", content: "x" }] };
    const tools = [{ type: "function", function: { name: "f", parameters: {} } }];
    expect(toChatCommand({ ...ok, stop: "END" }, {}).command.text).toEqual({ stop: ["END"] });
    expect(toChatCommand({ ...ok, tools, tool_choice: "required" }, {}).command.text?.toolChoice).toEqual({ type: "required" });
    expect(toChatCommand({ ...ok, tools, tool_choice: "none" }, {}).command.text?.toolChoice).toEqual({ type: "none" });
    const named = toChatCommand({ ...ok, tools, tool_choice: { type: "function", function: { name: "f" } }, parallel_tool_calls: false }, {}).command;
    expect(named.text?.toolChoice).toEqual({ type: "tool", name: "f", disableParallel: true });
    expect(named.params).toBeUndefined();
    expect(toChatCommand({ ...ok, tools, parallel_tool_calls: false }, {}).command.text?.toolChoice).toEqual({ type: "auto", disableParallel: true });
    expect(toChatCommand({ ...ok, parallel_tool_calls: false }, {}).command.text).toBeUndefined();
    expect(param(() => toChatCommand({ ...ok, stop: [1] }, {}))).toBe("stop");
    expect(param(() => toChatCommand({ ...ok, stop: ["a", "b", "c", "d", "e"] }, {}))).toBe("stop");
    expect(param(() => toChatCommand({ ...ok, tool_choice: "any" }, {}))).toBe("tool_choice");
    expect(param(() => toChatCommand({ ...ok, tool_choice: { type: "function", function: {} } }, {}))).toBe("tool_choice.function.name");
    expect(param(() => toChatCommand({ ...ok, parallel_tool_calls: "no" }, {}))).toBe("parallel_tool_calls");
  });

  it("json_schema is JSON with the schema passed on as params.response_format", () => {
    const rf = { type: "json_schema", json_schema: { name: "a", schema: { type: "object" } } };
    const { command } = toChatCommand({ model: "m", messages: [{ role: "user", content: "x" }], response_format: rf }, {});
    expect(command.text).toEqual({ responseFormat: "JSON" });
    expect(command.params).toEqual({ response_format: rf });
  });

  it("refuses bad input with OpenAI's param", () => {
    const ok = { model: "m", messages: [{ role: "user", content: "x" }] };
    expect(param(() => toChatCommand({ ...ok, n: 2 }, {}))).toBe("n");
    expect(param(() => toChatCommand({ ...ok, model: "" }, {}))).toBe("model");
    expect(param(() => toChatCommand({ ...ok, messages: [] }, {}))).toBe("messages");
    expect(param(() => toChatCommand({ ...ok, messages: [{ role: "robot", content: "x" }] }, {}))).toBe("messages[0].role");
    expect(param(() => toChatCommand({ ...ok, messages: [{ role: "user", content: [{ type: "input_audio" }] }] }, {}))).toBe("messages[0].content[0].type");
    expect(param(() => toChatCommand({ ...ok, max_tokens: 0 }, {}))).toBe("max_tokens");
    expect(param(() => toChatCommand({ ...ok, response_format: { type: "yaml" } }, {}))).toBe("response_format.type");
  });
});
