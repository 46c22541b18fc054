/** Content safety: the moderation step on requests and outputs (domain/moderation/). */
import { int, oneOf, str } from "../spec";

export const moderation = {
  /**
   * Which texts are classified: off (default), input (prompt, system and messages, at admission:
   * a flagged one is refused with CONTENT_POLICY and nothing is created), output (each attempt's
   * text before SUCCEEDED: a flagged one is an INVALID attempt), or both.
   */
  mode: oneOf<"off" | "input" | "output" | "both">("MODERATION", "off", ["off", "input", "output", "both"]),
  /**
   * The provider whose classifier judges: `openai` (POST /v1/moderations under the openai key
   * pool and OPENAI_BASE_URL), `simulated` (the fabricated offline classifier: flags the
   * `[unsafe]` marker only), or any configured provider that implements `moderate`.
   */
  provider: str("MODERATION_PROVIDER", "openai"),
  /** The classifier model sent to the provider (OpenAI's `model`); empty: the provider's default. */
  model: str("MODERATION_MODEL", "omni-moderation-latest"),
  /** Longest one classification may take, ms; past it the classifier counts as down (MODERATION_ON_ERROR). */
  timeoutMs: int("MODERATION_TIMEOUT_MS", 5000, 1, 120_000),
  /**
   * When the classifier is down, slow or has no key: closed (default) refuses — an input with
   * SERVICE_UNAVAILABLE (nothing created), an output fails its generation MODERATION_UNAVAILABLE;
   * open lets the text through unchecked, recorded on the generation (`moderation.unchecked`) and counted.
   */
  onError: oneOf<"closed" | "open">("MODERATION_ON_ERROR", "closed", ["closed", "open"]),
};
