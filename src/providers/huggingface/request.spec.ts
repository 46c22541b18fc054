import { describe, expect, it } from "vitest";
import type { GenerationRequest, ModelInfo } from "../contract";
import { JSON_INSTRUCTION } from "../shared/text";
import { imageParameters, imagePlan, modelUrl, promptOf, textArgs, whoAmIUrl } from "./request";

const req = (over: Partial<GenerationRequest>): GenerationRequest => ({ modality: "TEXT", model: "meta-llama/Llama-3.1-8B-Instruct", params: {}, ...over });

describe("huggingface request mapping", () => {
  it("a bare prompt is sent as it is; messages become a transcript ending with Assistant:", () => {
    expect(promptOf("huggingface", req({ prompt: "Once upon" }))).toBe("Once upon");
    const p = promptOf("huggingface", req({
      system: "be brief",
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }, { role: "assistant", content: [{ type: "text", text: "hello" }] }],
      prompt: "and now?",
      text: { responseFormat: "JSON" },
    }));
    expect(p).toBe(`be brief\n\n${JSON_INSTRUCTION}\n\nUser: hi\nAssistant: hello\nUser: and now?\nAssistant:`);
    expect(() => promptOf("huggingface", req({ messages: [{ role: "user", content: [{ type: "image_url", url: "https://x" }] }] }))).toThrow(/text only/);
    expect(() => promptOf("huggingface", req({}))).toThrow(/needs a prompt or messages/);
  });

  it("text arguments: max_new_tokens from the request, the catalog or 1024; tools refused", () => {
    const models = [{ name: "meta-llama/Llama-3.1-8B-Instruct", maxOutputTokens: 4096 }] as ModelInfo[];
    const args = textArgs("huggingface", req({ prompt: "x", seed: 2, text: { temperature: 0.5 }, params: { stream: false, top_p: 0.9 } }), models, "https://h/hf-inference");
    expect(args).toEqual({
      endpointUrl: "https://h/hf-inference/models/meta-llama/Llama-3.1-8B-Instruct", model: "meta-llama/Llama-3.1-8B-Instruct", inputs: "x",
      parameters: { top_p: 0.9, max_new_tokens: 4096, temperature: 0.5, seed: 2 },
    });
    expect(() => textArgs("huggingface", req({ prompt: "x", text: { tools: [{}] } }), [], "https://h")).toThrow(/does not support tools/);
    expect(() => textArgs("huggingface", req({ prompt: "x", text: { toolChoice: { type: "required" } } }), [], "https://h")).toThrow(/does not support tools/);
    expect(textArgs("huggingface", req({ prompt: "x", text: { stop: ["\nUser:"], toolChoice: { type: "none" } } }), [], "https://h").parameters).toMatchObject({ stop: ["\nUser:"] });
  });

  it("images: at least one, the style appended to the prompt, seed + i per image", () => {
    const r = req({ modality: "IMAGE", prompt: "a fox", seed: 10, image: { width: 512, height: 768, count: 0, style: "watercolor" }, params: { guidance_scale: 3, width: 1 } });
    const plan = imagePlan("huggingface", r);
    expect(plan).toEqual({ count: 1, inputs: "a fox, watercolor style", width: 512, height: 768 });
    expect(imageParameters(r, plan, 2)).toEqual({ guidance_scale: 3, width: 512, height: 768, seed: 12 });
    expect(() => imagePlan("huggingface", req({ modality: "IMAGE" }))).toThrow(/needs a prompt/);
  });

  it("URLs: each model path segment encoded; whoami on huggingface.co for HF hosts, else the host's origin", () => {
    expect(modelUrl("https://h", "a b/c")).toBe("https://h/models/a%20b/c");
    expect(whoAmIUrl("https://router.huggingface.co/hf-inference")).toBe("https://huggingface.co/api/whoami-v2");
    expect(whoAmIUrl("http://127.0.0.1:9000/proxy")).toBe("http://127.0.0.1:9000/api/whoami-v2");
  });
});
