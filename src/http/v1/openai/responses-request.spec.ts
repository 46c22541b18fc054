import { describe, expect, it } from "vitest";
import { parseResponsesRequest } from "./responses-request";

const fieldOf = (body: Record<string, unknown>): unknown => {
  try {
    parseResponsesRequest(body);
  } catch (e) {
    return (e as { extensions?: { field?: unknown } }).extensions?.field;
  }
  return undefined;
};

describe("parseResponsesRequest", () => {
  it("maps a string input, instructions and the text options", () => {
    expect(parseResponsesRequest({ model: "simulated/text", input: "hi", instructions: "be brief", temperature: 0.2, max_output_tokens: 50, text: { format: { type: "json_object" } }, stream: true })).toEqual({
      cmd: { modality: "TEXT", model: "simulated/text", prompt: "hi", system: "be brief", text: { temperature: 0.2, maxTokens: 50, responseFormat: "JSON" } },
      stream: true,
      background: false,
    });
  });

  it("maps message items with text and image parts; developer messages join the system text", () => {
    const { cmd, background } = parseResponsesRequest({
      model: "m", background: true, instructions: "one",
      input: [
        { role: "developer", content: "two" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "what is this?" }, { type: "input_image", image_url: "https://x/y.png" }] },
        { role: "assistant", content: [{ type: "output_text", text: "a cat" }] },
      ],
    });
    expect(background).toBe(true);
    expect(cmd.system).toBe("one\n\ntwo");
    expect(cmd.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "what is this?" }, { type: "image_url", url: "https://x/y.png" }] },
      { role: "assistant", content: [{ type: "text", text: "a cat" }] },
    ]);
  });

  it("passes function tools through in the chat shape, tool_choice as the neutral text.toolChoice, a json_schema as params", () => {
    const { cmd } = parseResponsesRequest({
      model: "m", input: "x", tool_choice: "auto",
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object" } }],
      text: { format: { type: "json_schema", name: "w", schema: { type: "object" } } },
    });
    expect(cmd.text?.tools).toEqual([{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }]);
    expect(cmd.text?.toolChoice).toEqual({ type: "auto" });
    expect(cmd.params).toEqual({ response_format: { type: "json_schema", json_schema: { name: "w", schema: { type: "object" } } } });
    const tools = [{ type: "function", name: "f" }];
    expect(parseResponsesRequest({ model: "m", input: "x", tools, tool_choice: { type: "function", name: "f" }, parallel_tool_calls: false }).cmd.text?.toolChoice).toEqual({ type: "tool", name: "f", disableParallel: true });
    expect(parseResponsesRequest({ model: "m", input: "x", tools, parallel_tool_calls: false }).cmd.text?.toolChoice).toEqual({ type: "auto", disableParallel: true });
    expect(parseResponsesRequest({ model: "m", input: "x", tools, tool_choice: "required", parallel_tool_calls: true }).cmd).toMatchObject({ text: { toolChoice: { type: "required" } } });
    expect(fieldOf({ model: "m", input: "x", tool_choice: { type: "web_search_preview" } })).toBe("tool_choice");
    expect(fieldOf({ model: "m", input: "x", tool_choice: { type: "function" } })).toBe("tool_choice.name");
  });

  it("names the field at fault", () => {
    expect(fieldOf({ input: "x" })).toBe("model");
    expect(fieldOf({ model: "m" })).toBe("input");
    expect(fieldOf({ model: "m", input: [{ role: "robot", content: "x" }] })).toBe("input[0].role");
    expect(fieldOf({ model: "m", input: [{ role: "user", content: [{ type: "input_file" }] }] })).toBe("input[0].content[0].type");
    expect(fieldOf({ model: "m", input: [{ type: "function_call_output", output: "x" }] })).toBe("input[0].call_id");
    expect(fieldOf({ model: "m", input: [{ type: "web_search_call", id: "x" }] })).toBe("input[0].type");
    expect(fieldOf({ model: "m", input: "x", previous_response_id: "resp_1" })).toBe("previous_response_id");
    expect(fieldOf({ model: "m", input: "x", max_output_tokens: 0 })).toBe("max_output_tokens");
    expect(fieldOf({ model: "m", input: "x", stream: "yes" })).toBe("stream");
    expect(fieldOf({ model: "m", input: "x", text: { format: { type: "xml" } } })).toBe("text.format.type");
  });
});
