import { Field, Int, ObjectType, registerEnumType } from "type-graphql";

export enum ModerationStage { INPUT = "INPUT", OUTPUT = "OUTPUT" }
registerEnumType(ModerationStage, { name: "ModerationStage", description: "INPUT: the request's texts at admission; OUTPUT: an attempt's answer before it may succeed" });

export enum OnFlaggedPolicy { FAIL = "FAIL", FALLBACK = "FALLBACK" }
registerEnumType(OnFlaggedPolicy, {
  name: "OnFlaggedPolicy",
  description: "What a generation does when content moderation flags an attempt's output: FAIL (CONTENT_POLICY) or FALLBACK to its next candidate",
});

@ObjectType({ description: "What content moderation (MODERATION) found for a generation" })
export class GenerationModeration {
  @Field({ description: "Some text of this generation was flagged (with FALLBACK a later attempt may still have served a clean answer: see attempts)" })
  flagged: boolean;
  @Field(() => ModerationStage, { nullable: true, description: "Where the flag was raised; null when nothing was flagged" }) stage: ModerationStage | null;
  @Field(() => [String], { description: "The categories flagged (the classifier's names, e.g. violence, hate/threatening)" }) categories: string[];
  @Field(() => Int, { description: "Attempts whose output was flagged: each one INVALID, its cost charged" }) flaggedAttempts: number;
  @Field(() => [ModerationStage], { description: "Stages the classifier checked" }) checked: ModerationStage[];
  @Field(() => [ModerationStage], { description: "Stages let through unchecked because the classifier was down or slow (MODERATION_ON_ERROR=open)" })
  unchecked: ModerationStage[];
  @Field({ description: "The classifier: <provider> or <provider>/<model>" }) classifier: string;
}
