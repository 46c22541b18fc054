/**
 * POST /v1/images/generations (OpenAI): one IMAGE generation (source OPENAI) for the `n` images,
 * waited for. `url` answers the signed, expiring /files URL the GraphQL API gives (no
 * Authorization header needed to fetch it); `b64_json` the stored bytes themselves.
 */
import { HttpError, sendJson } from "../../http-utils";
import { signFilePath } from "../../../storage/signed-url";
import { readJsonBody } from "../body";
import { fromGeneration, sendV1Error } from "../errors";
import { cancelWhenClientLeaves } from "../client-gone";
import { attemptsOf, runToTerminal } from "../generation-call";
import { responseHeaders, switchboardOptions } from "../headers";
import type { V1Request, V1Route } from "../route";
import { imageCommand, imagesResponse, parseImagesRequest, type ImageDatum } from "./images.mapping";

async function images(r: V1Request): Promise<void> {
  const body = await readJsonBody(r.req, r.config.http.bodyLimitBytes);
  const request = parseImagesRequest(body);
  const gen = await runToTerminal(r.services, r.viewer, "OPENAI", { ...imageCommand(request), ...switchboardOptions(r.req, body) }, cancelWhenClientLeaves(r));
  const headers = responseHeaders(gen, await attemptsOf(r.services, gen));
  if (gen.status !== "SUCCEEDED") return sendV1Error(r.res, "openai", fromGeneration(gen), headers);
  const files = gen.output?.files ?? [];
  const revised = gen.output?.text ? { revised_prompt: gen.output.text } : {};
  let data: ImageDatum[];
  if (request.responseFormat === "url") {
    // The GraphQL output's URLs: same signature, same lifetime (FILE_URL_TTL_SECONDS).
    const exp = Math.floor(Date.now() / 1000) + r.config.files.urlTtlSeconds;
    data = files.map((f) => ({ url: r.config.http.publicUrl + signFilePath(f.key, r.services.filesSecret, exp), ...revised }));
  } else {
    data = await Promise.all(files.map(async (f) => {
      const blob = await r.blobs.get(f.key);
      // Retention deletes files only long after a generation ends; missing now means storage lost it.
      if (!blob) throw new HttpError(500, "INTERNAL_SERVER_ERROR", `The image ${f.key} of generation ${gen.id} is missing from storage`);
      return { b64_json: blob.data.toString("base64"), ...revised };
    }));
  }
  sendJson(r.res, 200, imagesResponse(new Date(gen.completedAt ?? Date.now()), data), headers);
}

export const IMAGES_ROUTES: V1Route[] = [{ method: "POST", path: "/v1/images/generations", api: "openai", handle: images }];
