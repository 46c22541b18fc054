/** The provider request a stored generation stands for. */
import type { GenerationEntity } from "../../../db/entities/generation.entity";
import type { GenerationRequest } from "../../../providers/contract";

export function toRequest(g: GenerationEntity): GenerationRequest {
  const req: GenerationRequest = { modality: g.modality, model: g.providerModel ?? "", params: g.params ?? {} };
  if (g.prompt != null) req.prompt = g.prompt;
  if (g.messages) req.messages = g.messages;
  if (g.system != null) req.system = g.system;
  if (g.textOptions) req.text = g.textOptions;
  if (g.imageOptions) req.image = g.imageOptions;
  if (g.videoOptions) req.video = g.videoOptions;
  if (g.audioOptions) req.audio = g.audioOptions;
  if (g.seed != null) req.seed = g.seed;
  return req;
}
