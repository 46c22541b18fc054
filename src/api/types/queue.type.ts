import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { Priority } from "./enums";

@ObjectType({ description: "Waiting generation jobs of one priority" })
export class PriorityCount {
  @Field(() => Priority) priority: Priority;
  @Field(() => Int) count: number;
}

@ObjectType({ description: "The generation queue, for admins: what is paused and how much work is where" })
export class QueueStatus {
  @Field({ description: "The whole queue is paused: no worker starts a job (running ones finish)" }) paused: boolean;
  @Field(() => [String], { description: "Providers whose work is held (work routed to others runs)" }) pausedProviders: string[];
  @Field(() => Int, { description: "Jobs waiting for a worker" }) waiting: number;
  @Field(() => Int, { description: "Jobs running on a worker" }) active: number;
  @Field(() => Int, { description: "Jobs due later: retry backoffs, re-checks of upstream tasks, fairness and pause parking" }) delayed: number;
  @Field(() => [PriorityCount], { description: "Waiting jobs by priority" }) byPriority: PriorityCount[];
}

@InputType({ description: "Which QUEUED generations clearQueue cancels: all of them, or those matching every field given" })
export class ClearQueueFilter {
  @Field(() => ID, { nullable: true, description: "One user's generations" }) userId?: string;
  @Field(() => String, { nullable: true, description: "The model as requested (\"<provider>/<model>\", an alias or \"auto\")" }) model?: string;
  @Field(() => String, { nullable: true, description: "Routed to this provider (its first candidate, or the one a fallback moved to)" }) provider?: string;
  @Field(() => Priority, { nullable: true }) priority?: Priority;
  @Field(() => Date, { nullable: true, description: "Created before this instant" }) createdBefore?: Date;
}
