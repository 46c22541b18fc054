import { Field, Int, ObjectType, registerEnumType } from "type-graphql";

export enum CircuitState { CLOSED = "CLOSED", OPEN = "OPEN", HALF_OPEN = "HALF_OPEN" }
registerEnumType(CircuitState, { name: "CircuitState" });

export enum UnavailablePolicy { WAIT = "WAIT", FAIL = "FAIL" }
registerEnumType(UnavailablePolicy, { name: "UnavailablePolicy", description: "What a generation does when every candidate's circuit is OPEN" });

@ObjectType({ description: "A circuit breaker: per provider, or per provider and model where configured" })
export class Circuit {
  @Field() provider: string;
  @Field(() => String, { nullable: true }) model: string | null;
  @Field(() => CircuitState) state: CircuitState;
  @Field(() => Int) consecutiveFailures: number;
  @Field(() => Int, { description: "Calls counted in the sliding window" }) windowCalls: number;
  @Field(() => Int) windowFailures: number;
  @Field(() => Date, { nullable: true }) openedAt: Date | null;
  @Field(() => Date, { nullable: true }) nextProbeAt: Date | null;
  @Field({ description: "Opened by an admin: stays OPEN until reset" }) forced: boolean;
}

@ObjectType({ description: "A circuit breaker transition" })
export class CircuitEvent {
  @Field() provider: string;
  @Field(() => String, { nullable: true }) model: string | null;
  @Field(() => CircuitState) from: CircuitState;
  @Field(() => CircuitState) to: CircuitState;
  @Field() reason: string;
  @Field(() => Int) consecutiveFailures: number;
  @Field(() => Int) windowCalls: number;
  @Field(() => Int) windowFailures: number;
  @Field(() => Date, { nullable: true }) nextProbeAt: Date | null;
  @Field() at: Date;
}
