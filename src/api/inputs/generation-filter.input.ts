import { Field, ID, InputType } from "type-graphql";
import { GenerationStatus, Modality } from "../types/enums";

@InputType()
export class GenerationFilter {
  @Field(() => [GenerationStatus], { nullable: true }) status?: GenerationStatus[];
  @Field(() => Modality, { nullable: true }) modality?: Modality;
  @Field(() => String, { nullable: true }) model?: string;
  @Field(() => Date, { nullable: true }) createdAfter?: Date;
  @Field(() => Date, { nullable: true }) createdBefore?: Date;
  @Field(() => ID, { nullable: true, description: "Admins only: one user's generations" }) userId?: string;
}
