/** Image bytes as MediaOutput fields: size and mime type read from the bytes (image-size). */
import { imageSize } from "image-size";
import type { MediaOutput } from "../contract";
import { unusableResponse } from "./errors";

/** Mime types for the `type` image-size reports. */
export const IMAGE_MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heif: "image/heif",
  avif: "image/avif",
  bmp: "image/bmp",
  tiff: "image/tiff",
  svg: "image/svg+xml",
};

/** Width, height and (when image-size knows it) the mime type of an image; throws when the bytes are not one. */
export function imageInfo(bytes: Buffer): { width: number; height: number; mimeType?: string } {
  const size = imageSize(bytes);
  return { width: size.width, height: size.height, ...(size.type && IMAGE_MIME[size.type] ? { mimeType: IMAGE_MIME[size.type] } : {}) };
}

/** Generated image `i` as MediaOutput; bad_response when the bytes are not a readable image. */
export function imageMedia(provider: string, bytes: Buffer, i: number): MediaOutput {
  let info: ReturnType<typeof imageInfo>;
  try {
    info = imageInfo(bytes);
  } catch (e) {
    throw unusableResponse(provider, `image ${i} is not a readable image (${(e as Error).message})`);
  }
  return { data: bytes, mimeType: info.mimeType ?? "application/octet-stream", width: info.width, height: info.height };
}
