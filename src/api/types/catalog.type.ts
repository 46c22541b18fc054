import { Field, Float, ID, ObjectType } from "type-graphql";
import { Modality } from "./enums";

@ObjectType({ description: "Prices in USD" })
export class ModelPricing {
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
}

@ObjectType()
export class Provider {
  @Field(() => ID) id: string;
  @Field() name: string;
  @Field({ description: "True when outputs are fabricated locally (no upstream call): the built-in simulated provider" })
  simulated: boolean;
  @Field(() => [Modality]) modalities: Modality[];
  @Field(() => [Model]) models: Model[];
}

@ObjectType()
export class CostEstimate {
  @Field(() => Float, { description: "Worst-case cost in USD for this request" }) estimatedCostUsd: number;
  @Field() model: string;
  @Field() provider: string;
}
