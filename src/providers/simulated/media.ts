import { PNG } from "pngjs";
import { mulberry32, type Rng } from "./seeding";

/** The slice of the untyped `gifenc` package used here. */
interface GifEncoder {
  writeFrame(index: Uint8Array, width: number, height: number, opts: GifFrameOptions): void;
  finish(): void;
  bytes(): Uint8Array;
}
interface GifFrameOptions {
  palette?: number[][];
  delay?: number;
  repeat?: number;
}
// gifenc ships no type declarations; require() with a local interface keeps the typing local.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { GIFEncoder } = require("gifenc") as { GIFEncoder: () => GifEncoder };

type Rgb = [number, number, number];

function color(rng: Rng): Rgb {
  return [Math.floor(rng() * 256), Math.floor(rng() * 256), Math.floor(rng() * 256)];
}

function assertSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
}

/**
 * A PNG of exactly `width`×`height` (RGBA): a diagonal gradient between two seeded colours
 * with a seeded disc on top. Same seed → identical bytes.
 *
 * @throws RangeError when the size is not positive integers.
 */
export function renderPng(width: number, height: number, seed: number): Buffer {
  assertSize(width, height);
  const rng = mulberry32(seed);
  const [a, b, disc] = [color(rng), color(rng), color(rng)];
  const [cx, cy] = [rng() * width, rng() * height];
  const r2 = (Math.min(width, height) * (0.15 + rng() * 0.2)) ** 2;
  const png = new PNG({ width, height });
  const data = png.data;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      const rgb = (x - cx) ** 2 + (y - cy) ** 2 < r2 ? disc : null;
      const t = (x / width + y / height) / 2;
      data[i] = rgb ? rgb[0] : a[0] + (b[0] - a[0]) * t;
      data[i + 1] = rgb ? rgb[1] : a[1] + (b[1] - a[1]) * t;
      data[i + 2] = rgb ? rgb[2] : a[2] + (b[2] - a[2]) * t;
      data[i + 3] = 255;
    }
  }
  // pngjs's default adaptive filtering is ~4x slower in JS; "Up" suits a smooth gradient.
  return PNG.sync.write(png, { filterType: 2 });
}

/**
 * A 16-bit mono PCM WAV holding a seeded sine tone (220–880 Hz) with short fades.
 *
 * @param durationSeconds - positive length; the sample count is `round(duration × rate)`.
 * @param sampleRate - samples per second (default 16000).
 */
export function renderWav(durationSeconds: number, seed: number, sampleRate = 16000): Buffer {
  if (!(durationSeconds > 0) || !Number.isFinite(durationSeconds)) {
    throw new RangeError("durationSeconds must be a finite number > 0");
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1) {
    throw new RangeError("sampleRate must be a positive integer");
  }
  const samples = Math.round(durationSeconds * sampleRate);
  const dataBytes = samples * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write("RIFF", 0, "ascii");
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write("WAVEfmt ", 8, "ascii");
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28); // byte rate
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write("data", 36, "ascii");
  buf.writeUInt32LE(dataBytes, 40);
  const freq = 220 + mulberry32(seed)() * 660;
  const fade = Math.max(1, Math.round(sampleRate * 0.01));
  for (let n = 0; n < samples; n++) {
    const env = Math.min(1, n / fade, (samples - 1 - n) / fade);
    const v = Math.sin((2 * Math.PI * freq * n) / sampleRate) * 0.3 * env;
    buf.writeInt16LE(Math.round(v * 32767), 44 + n * 2);
  }
  return buf;
}

/**
 * A small looping animated GIF (diagonal bands drifting across a seeded 16-colour palette).
 * It is the simulated provider's honest stand-in for video: no real video is encoded.
 *
 * @param frames - number of frames, a positive integer.
 * @param frameDelayMs - display time per frame (default 250 ms, i.e. 4 fps).
 */
export function renderGif(
  width: number,
  height: number,
  frames: number,
  seed: number,
  frameDelayMs = 250,
): Buffer {
  assertSize(width, height);
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError("frames must be a positive integer");
  const rng = mulberry32(seed);
  const [a, b] = [color(rng), color(rng)];
  const palette = Array.from({ length: 16 }, (_, k) =>
    a.map((v, c) => Math.round(v + ((b[c] - v) * k) / 15)),
  );
  const band = 4 + Math.floor(rng() * 8);
  const gif = GIFEncoder();
  const index = new Uint8Array(width * height);
  for (let f = 0; f < frames; f++) {
    const shift = f * Math.ceil(band / 2);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) index[y * width + x] = Math.floor((x + y + shift) / band) % 16;
    }
    // The first frame carries the global palette and the loop-forever extension.
    const opts = f === 0 ? { palette, delay: frameDelayMs, repeat: 0 } : { delay: frameDelayMs };
    gif.writeFrame(index, width, height, opts);
  }
  gif.finish();
  return Buffer.from(gif.bytes());
}
