/**
 * Rough token estimate used wherever no real tokenizer is available: about four characters
 * per token, never less than 1.
 *
 * @param text - any text; code points (not UTF-16 units) are counted.
 * @returns the estimated token count, at least 1.
 */
export function estimateTokens(text: string): number {
  let chars = 0;
  for (const _ of text) chars++;
  return Math.max(1, Math.ceil(chars / 4));
}
