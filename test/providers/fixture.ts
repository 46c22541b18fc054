/**
 * What the adapter contract suite needs from each adapter: a fake server that speaks the
 * provider's wire format, a way to build the real adapter pointed at it, and a valid request.
 * One file per adapter (and modality) in test/providers/fixtures/<name>.fixture.ts, exporting
 * `fixture` (or `fixtures`, an array).
 */
import type { GenerationProvider, GenerationRequest, GenerationResult } from "../../src/providers/contract";
import type { FakeProviderServer, Scenario } from "../fakes/fake-server";

export interface AdapterFixture {
  /** e.g. "openai-compatible text". */
  name: string;
  startServer(): Promise<FakeProviderServer>;
  /** The real adapter, its base URL pointed at the fake. */
  createProvider(baseUrl: string): GenerationProvider;
  /** A valid request for one of the adapter's models (non-streaming or streaming as the adapter does). */
  request(): GenerationRequest;
  /** The key the fake accepts (the fake answers 401 when the scenario says so, whatever the key). */
  apiKey?: string;
  /** The adapter streams text: the suite checks deltas and the "cut" scenario. */
  streams: boolean;
  /** generate() returns a PendingTask that poll() finishes (video, Replicate). */
  asyncTask: boolean;
  /** Scenarios this fake cannot produce in its wire format (documented reason in the fixture). */
  skip?: Partial<Record<Scenario, string>>;
  /** Checks a successful result (text non-empty, vector length, media bytes, usage …). */
  checkResult(result: GenerationResult): void;
}
