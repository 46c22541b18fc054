import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { renderGif, renderPng, renderWav } from "./media";

describe("renderPng", () => {
  it("decodes at exactly the requested size", () => {
    const png = PNG.sync.read(renderPng(37, 21, 1));
    expect([png.width, png.height]).toEqual([37, 21]);
  });

  it("is deterministic per seed", () => {
    expect(renderPng(32, 32, 5).equals(renderPng(32, 32, 5))).toBe(true);
    expect(renderPng(32, 32, 5).equals(renderPng(32, 32, 6))).toBe(false);
  });

  it("rejects a bad size", () => {
    expect(() => renderPng(0, 10, 1)).toThrow(RangeError);
    expect(() => renderPng(10.5, 10, 1)).toThrow(RangeError);
  });
});

describe("renderWav", () => {
  it("writes a valid 16-bit mono PCM header and the right data length", () => {
    const wav = renderWav(1.5, 3, 8000);
    expect(wav.toString("ascii", 0, 4)).toBe("RIFF");
    expect(wav.toString("ascii", 8, 12)).toBe("WAVE");
    expect(wav.toString("ascii", 12, 16)).toBe("fmt ");
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.readUInt16LE(20)).toBe(1); // PCM
    expect(wav.readUInt16LE(22)).toBe(1); // mono
    expect(wav.readUInt32LE(24)).toBe(8000);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.toString("ascii", 36, 40)).toBe("data");
    expect(wav.readUInt32LE(40)).toBe(1.5 * 8000 * 2);
    expect(wav.length).toBe(44 + 1.5 * 8000 * 2);
  });

  it("defaults to 16 kHz and is deterministic per seed", () => {
    expect(renderWav(0.25, 9).readUInt32LE(24)).toBe(16000);
    expect(renderWav(0.25, 9).equals(renderWav(0.25, 9))).toBe(true);
    expect(renderWav(0.25, 9).equals(renderWav(0.25, 10))).toBe(false);
  });
});

describe("renderGif", () => {
  it("writes an animated GIF89a of the requested size", () => {
    const gif = renderGif(160, 90, 8, 4);
    expect(gif.toString("ascii", 0, 6)).toBe("GIF89a");
    expect([gif.readUInt16LE(6), gif.readUInt16LE(8)]).toEqual([160, 90]);
    expect(gif[gif.length - 1]).toBe(0x3b); // trailer
    expect(gif.includes(Buffer.from("NETSCAPE2.0"))).toBe(true); // looping animation
  });

  it("is deterministic per seed", () => {
    expect(renderGif(20, 10, 3, 1).equals(renderGif(20, 10, 3, 1))).toBe(true);
    expect(renderGif(20, 10, 3, 1).equals(renderGif(20, 10, 3, 2))).toBe(false);
  });
});
