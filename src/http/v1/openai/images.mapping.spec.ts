import { describe, expect, it } from "vitest";
import { imageCommand, imagesResponse, parseImagesRequest } from "./images.mapping";

const fieldOf = (body: unknown): unknown => {
  try {
    parseImagesRequest(body);
  } catch (e) {
    return (e as { extensions: { field: string } }).extensions.field;
  }
  throw new Error("did not throw");
};

describe("images mapping", () => {
  it("maps prompt, n, size, quality and style onto one IMAGE command", () => {
    const r = parseImagesRequest({ model: "openai/dall-e-3", prompt: "a fox", n: 2, size: "1024x768", response_format: "b64_json", quality: "hd", style: "vivid" });
    expect(r).toEqual({ model: "openai/dall-e-3", prompt: "a fox", n: 2, width: 1024, height: 768, responseFormat: "b64_json", quality: "hd", style: "vivid" });
    expect(imageCommand(r)).toEqual({
      modality: "IMAGE", model: "openai/dall-e-3", prompt: "a fox", image: { count: 2, width: 1024, height: 768, style: "vivid" }, params: { quality: "hd" },
    });
  });

  it("defaults: model auto, one image, the model's size, a URL", () => {
    const r = parseImagesRequest({ prompt: "x", size: "auto" });
    expect(r).toEqual({ model: "auto", prompt: "x", n: 1, responseFormat: "url" });
    expect(imageCommand(r)).toEqual({ modality: "IMAGE", model: "auto", prompt: "x", image: { count: 1 } });
  });

  it("names the param of every bad input", () => {
    expect(fieldOf({})).toBe("prompt");
    expect(fieldOf({ prompt: "x", n: 0 })).toBe("n");
    expect(fieldOf({ prompt: "x", n: 11 })).toBe("n");
    expect(fieldOf({ prompt: "x", size: "big" })).toBe("size");
    expect(fieldOf({ prompt: "x", size: "0x10" })).toBe("size");
    expect(fieldOf({ prompt: "x", response_format: "png" })).toBe("response_format");
    expect(fieldOf({ prompt: "x", model: 3 })).toBe("model");
    expect(fieldOf({ prompt: "x", quality: "" })).toBe("quality");
  });

  it("answers { created (unix seconds), data }", () => {
    expect(imagesResponse(new Date(1_700_000_000_999), [{ url: "http://x/files/a.png" }])).toEqual({ created: 1_700_000_000, data: [{ url: "http://x/files/a.png" }] });
  });
});
