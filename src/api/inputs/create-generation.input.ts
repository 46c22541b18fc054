import { ArrayMaxSize, IsOptional, Length, MaxLength, ValidateNested } from "class-validator";
import { GraphQLJSON } from "graphql-scalars";
import { Field, Float, InputType, Int } from "type-graphql";
import { ContentPartType, MessageRole, Modality, Priority, ResponseFormat } from "../types/enums";
import { CachePolicy } from "../types/cache.type";
import { UnavailablePolicy } from "../types/circuit.type";
import { OnFlaggedPolicy } from "../types/moderation.type";
import { MAX_LIST_INPUT } from "../../domain/generations/input-bounds";
import { InBounds } from "./in-bounds";

@InputType()
export class ContentPartInput {
  @Field(() => ContentPartType) type: ContentPartType;
  @Field(() => String, { nullable: true }) text?: string | null;
  @Field(() => String, { nullable: true, description: "http(s) or data:image URL (vision)" }) @MaxLength(2_000_000) url?: string | null;
}

@InputType()
export class MessageInput {
  @Field(() => MessageRole) role: MessageRole;
  @Field(() => [ContentPartInput]) @ArrayMaxSize(100) @ValidateNested({ each: true }) content: ContentPartInput[];
}

@InputType()
export class TextOptionsInput {
  @Field(() => Float, { nullable: true }) @IsOptional() @InBounds("text.temperature") temperature?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @InBounds("text.maxTokens") maxTokens?: number;
  @Field(() => ResponseFormat, { nullable: true }) responseFormat?: ResponseFormat;
  @Field(() => [GraphQLJSON], { nullable: true }) @IsOptional() @ArrayMaxSize(128) tools?: unknown[];
  @Field(() => [String], { nullable: true, description: "Stop sequences (at most 16): the answer ends before the first one; each provider gets them under its own API's name" })
  @IsOptional() @ArrayMaxSize(16) @Length(1, 1000, { each: true }) stop?: string[];
}

@InputType()
export class ImageOptionsInput {
  @Field(() => Int, { nullable: true }) @IsOptional() @InBounds("image.width") width?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @InBounds("image.height") height?: number;
  @Field(() => Int, { nullable: true }) @IsOptional() @InBounds("image.count") count?: number;
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(100) style?: string;
}

@InputType()
export class VideoOptionsInput {
  @Field(() => Int, { nullable: true }) @IsOptional() @InBounds("video.durationSeconds") durationSeconds?: number;
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(20) resolution?: string;
  @Field(() => String, { nullable: true, description: "Image-to-video: the first frame" }) @IsOptional() @MaxLength(2048) imageUrl?: string;
}

@InputType()
export class AudioOptionsInput {
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(100) voice?: string;
  @Field(() => String, { nullable: true }) @IsOptional() @MaxLength(20) format?: string;
  @Field(() => Float, { nullable: true }) @IsOptional() @InBounds("audio.speed") speed?: number;
  @Field(() => Float, { nullable: true }) @IsOptional() @InBounds("audio.durationSeconds") durationSeconds?: number;
}

@InputType({ description: "What `auto` (and aliases) must meet" })
export class RequirementsInput {
  @Field(() => Int, { nullable: true, description: "Minimum catalog quality score, 0..100" }) @IsOptional() @InBounds("requirements.minQuality") minQuality?: number | null;
  @Field(() => Float, { nullable: true, description: "Largest worst-case cost in USD" }) @IsOptional() @InBounds("requirements.maxCostUsd") maxCostUsd?: number | null;
}

@InputType()
export class CreateGenerationInput {
  @Field(() => Modality) modality: Modality;
  @Field({ description: '"<provider>/<model>", an alias, or "auto"' }) @Length(1, 200) model: string;
  @Field(() => String, { nullable: true, description: "One user message, or the media prompt" }) prompt?: string | null;
  @Field(() => [MessageInput], { nullable: true }) @IsOptional() @ArrayMaxSize(MAX_LIST_INPUT) @ValidateNested({ each: true }) messages?: MessageInput[] | null;
  @Field(() => String, { nullable: true }) system?: string | null;
  @Field(() => TextOptionsInput, { nullable: true }) @IsOptional() @ValidateNested() text?: TextOptionsInput | null;
  @Field(() => ImageOptionsInput, { nullable: true }) @IsOptional() @ValidateNested() image?: ImageOptionsInput | null;
  @Field(() => VideoOptionsInput, { nullable: true }) @IsOptional() @ValidateNested() video?: VideoOptionsInput | null;
  @Field(() => AudioOptionsInput, { nullable: true }) @IsOptional() @ValidateNested() audio?: AudioOptionsInput | null;
  @Field(() => GraphQLJSON, { nullable: true, description: "Provider-specific extras, passed through untouched. simulated: { simulate: { latencyMs, steps, failRate, failWith, retryAfterSeconds } }" })
  params?: unknown;
  @Field(() => Priority, { defaultValue: Priority.NORMAL }) priority: Priority;
  @Field(() => Int, { nullable: true }) @IsOptional() @InBounds("seed") seed?: number | null;
  @Field(() => String, { nullable: true, description: "The same key from the same user with the same request returns the first generation; with a different request it is CONFLICT" }) idempotencyKey?: string | null;
  @Field(() => Int, { nullable: true, description: "Seconds (≤ 60) to wait for a terminal state before returning" }) @IsOptional() @InBounds("wait") wait?: number | null;
  @Field(() => Float, { nullable: true, description: "Upper bound on this request's cost in USD: a route whose worst-case estimate exceeds it is not used" })
  @IsOptional() @InBounds("maxCostUsd") maxCostUsd?: number | null;
  @Field(() => Int, { nullable: true, description: "Whole-request deadline: not finished this many seconds after creation → FAILED with DEADLINE_EXCEEDED, the upstream call aborted" })
  @IsOptional() @InBounds("deadlineSeconds") deadlineSeconds?: number | null;
  @Field(() => CachePolicy, { defaultValue: CachePolicy.AUTO, description: "Exact cache: AUTO caches only deterministic requests" })
  cache: CachePolicy;
  @Field(() => UnavailablePolicy, { defaultValue: UnavailablePolicy.WAIT, description: "When every candidate's circuit is OPEN: WAIT until the earliest probe, or FAIL at once with SERVICE_UNAVAILABLE" })
  whenUnavailable: UnavailablePolicy;
  @Field(() => OnFlaggedPolicy, { defaultValue: OnFlaggedPolicy.FAIL, description: "MODERATION=output|both: when an attempt's output is flagged, FAIL with CONTENT_POLICY (its cost charged), or FALLBACK to the next candidate (fallbackModels, an alias's chain)" })
  onFlagged: OnFlaggedPolicy;
  @Field(() => [String], { nullable: true, description: 'Models to fall back to, in order, when the requested one fails retryably ("<provider>/<model>")' })
  @IsOptional() @ArrayMaxSize(10) @MaxLength(200, { each: true }) fallbackModels?: string[] | null;
  @Field(() => RequirementsInput, { nullable: true, description: "For auto routing (and to filter an alias's chain): minimum quality and maximum cost" })
  @IsOptional() @ValidateNested() requirements?: RequirementsInput | null;
  @Field(() => Boolean, { nullable: true, description: "Semantic cache: serve a similar earlier answer (same scope, route and options) when similarity ≥ the threshold. Default: the route's setting" })
  semanticCache?: boolean | null;
  @Field(() => String, { nullable: true, description: "http(s) URL that receives this generation's terminal event (generation.succeeded / failed / cancelled), signed with your callback secret (rotateCallbackSecret)" })
  @IsOptional() @MaxLength(2048) callbackUrl?: string | null;
}
