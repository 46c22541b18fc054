/** The API key a call carries, and the SDK clients adapters keep per key. */
import { ProviderError } from "../contract";

/** Sent as the bearer token to servers that need none (Ollama, LM Studio, vLLM without auth). */
export const NO_KEY = "not-needed";

/** The call's key; an `auth` ProviderError when the provider needs one and none was given. */
export function requireKey(provider: string, apiKey: string | undefined, requiresKey = true): string | undefined {
  if (!apiKey && requiresKey) {
    throw new ProviderError({ provider, kind: "auth", message: `${provider} needs an API key and none was given` });
  }
  return apiKey;
}

/** One SDK client per key (the pool hands out a few keys; each client keeps its connections). */
export class ClientsByKey<T> {
  private readonly clients = new Map<string, T>();

  constructor(private readonly make: (key: string) => T) {}

  get(key: string): T {
    let client = this.clients.get(key);
    if (!client) {
      client = this.make(key);
      this.clients.set(key, client);
    }
    return client;
  }
}
