import { GraphQLJSON } from "graphql-scalars";
import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import { GenerationEventType, GenerationSource, GenerationStatus, Modality, Priority } from "./enums";
import { CacheHit } from "./cache.type";
import { GenerationModeration } from "./moderation.type";

@ObjectType()
export class Usage {
  @Field(() => Int, { nullable: true }) inputTokens?: number;
  @Field(() => Int, { nullable: true }) outputTokens?: number;
  @Field(() => Int, { nullable: true }) images?: number;
  @Field(() => Float, { nullable: true }) seconds?: number;
}

@ObjectType({ description: "A generated file, served from /files/… by a signed, expiring URL (no Authorization header needed)" })
export class OutputFile {
  @Field() url: string;
  @Field() mimeType: string;
  @Field(() => Int) sizeBytes: number;
  @Field(() => Int, { nullable: true }) width?: number;
  @Field(() => Int, { nullable: true }) height?: number;
  @Field(() => Float, { nullable: true }) durationSeconds?: number;
  @Field({ description: "When the URL stops working; query again for a fresh one" }) expiresAt: Date;
}

@ObjectType()
export class GenerationOutput {
  @Field(() => String, { nullable: true }) text: string | null;
  @Field(() => String, { nullable: true, description: "URL of the first file (media)" }) url: string | null;
  @Field(() => String, { nullable: true }) mimeType: string | null;
  @Field(() => Int, { nullable: true }) sizeBytes: number | null;
  @Field(() => [Float], { nullable: true }) embedding: number[] | null;
  @Field(() => Usage, { nullable: true }) usage: Usage | null;
  @Field(() => [OutputFile]) files: OutputFile[];
  @Field(() => GraphQLJSON, { nullable: true, description: "Parsed text when a JSON response format was requested" }) json?: unknown;
}

@ObjectType()
export class GenerationError {
  @Field() code: string;
  @Field() message: string;
}

@ObjectType({ description: "One upstream call made for a generation" })
export class Attempt {
  @Field(() => Int) attemptNo: number;
  @Field() provider: string;
  @Field() model: string;
  @Field() status: string;
  @Field(() => Int, { nullable: true }) latencyMs: number | null;
  @Field(() => String, { nullable: true }) errorKind: string | null;
  @Field(() => String, { nullable: true }) errorMessage: string | null;
  @Field(() => String, { nullable: true, description: "Label of the provider key used (never the key)" }) keyLabel: string | null;
  @Field(() => Float) costUsd: number;
  @Field() createdAt: Date;
}

@ObjectType()
export class Generation {
  @Field(() => ID) id: string;
  @Field(() => GenerationStatus) status: GenerationStatus;
  @Field(() => Modality) modality: Modality;
  @Field({ description: "As requested: <provider>/<model>, an alias or auto" }) model: string;
  @Field(() => String, { nullable: true }) prompt: string | null;
  @Field(() => String, { nullable: true }) system: string | null;
  @Field(() => Priority) priority: Priority;
  @Field(() => Int, { nullable: true }) seed: number | null;
  @Field(() => Float, { description: "0..1" }) progress: number;
  @Field() cached: boolean;
  @Field(() => CacheHit, { nullable: true, description: "For cache hits: kind, similarity and the generation that produced the answer" })
  cacheHit: CacheHit | null;
  @Field(() => GraphQLJSON) params: Record<string, unknown>;
  @Field(() => GenerationModeration, { nullable: true, description: "Content moderation's findings (MODERATION); null when no check ran (moderation off, nothing to check)" })
  moderation: GenerationModeration | null;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) startedAt: Date | null;
  @Field(() => Date, { nullable: true }) completedAt: Date | null;
  @Field(() => GenerationSource, { description: "The API it was requested through: GRAPHQL (createGeneration), OPENAI or ANTHROPIC (/v1)" }) source: GenerationSource;
  @Field(() => String, { nullable: true, description: "The id of the request that created it (x-request-id, or the server's)" }) requestId: string | null;
  // provider, output, error, attempts, costs and user are field resolvers (GenerationFieldsResolver).
}

@ObjectType()
export class PageInfo {
  @Field() hasNextPage: boolean;
  @Field(() => String, { nullable: true }) endCursor: string | null;
}

@ObjectType()
export class GenerationEdge {
  @Field() cursor: string;
  @Field(() => Generation) node: Generation;
}

@ObjectType()
export class GenerationConnection {
  @Field(() => [GenerationEdge]) edges: GenerationEdge[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

@ObjectType({ description: "One event of a generation; seq is gap-free per generation: drop anything at or below a seq you have" })
export class GenerationEvent {
  @Field(() => Int) seq: number;
  @Field(() => GenerationEventType) type: GenerationEventType;
  @Field(() => Generation) generation: Generation;
  @Field(() => Float, { nullable: true }) progress: number | null;
  @Field(() => String, { nullable: true, description: "DELTA: the new text" }) delta: string | null;
  @Field(() => String, { nullable: true, description: "SNAPSHOT: the text streamed so far" }) text: string | null;
  @Field(() => String, { nullable: true }) message: string | null;
  @Field(() => Int, { nullable: true, description: "QUEUED events after the first: the place in line when it moved materially (see Generation.queuePosition)" }) queuePosition: number | null;
  @Field(() => Date, { nullable: true, description: "QUEUED events after the first: the estimated start then (see Generation.estimatedStartAt)" }) estimatedStartAt: Date | null;
  @Field() at: Date;
}
