import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

/** GraphQL names; the values are the wire names in the `type` of a delivery's body. */
export enum WebhookEventType {
  GENERATION_SUCCEEDED = "generation.succeeded",
  GENERATION_FAILED = "generation.failed",
  GENERATION_CANCELLED = "generation.cancelled",
  QUOTA_WARNING = "quota.warning",
}
registerEnumType(WebhookEventType, {
  name: "WebhookEventType",
  description: "Sent as the body's `type` and the Switchboard-Event header: generation.succeeded, generation.failed, generation.cancelled, quota.warning",
});

export enum WebhookDeliveryStatus {
  PENDING = "PENDING",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
  BLOCKED = "BLOCKED",
}
registerEnumType(WebhookDeliveryStatus, {
  name: "WebhookDeliveryStatus",
  description: "PENDING: queued or backing off between attempts; FAILED: every attempt failed; BLOCKED: the address guard refused the target",
});

export enum WebhookTarget {
  ENDPOINT = "endpoint",
  CALLBACK = "callback",
}
registerEnumType(WebhookTarget, { name: "WebhookTarget", description: "ENDPOINT: a registered webhook endpoint; CALLBACK: a generation's callbackUrl" });

@ObjectType({ description: "Where your events are POSTed, signed with the endpoint's secret" })
export class WebhookEndpoint {
  @Field(() => ID) id: string;
  @Field() url: string;
  @Field(() => [WebhookEventType]) events: WebhookEventType[];
  @Field({ description: "The last 4 characters of the signing secret" }) secretLast4: string;
  @Field() createdAt: Date;
}

@ObjectType()
export class CreatedWebhookEndpoint {
  @Field(() => WebhookEndpoint) endpoint: WebhookEndpoint;
  @Field({ description: "The signing secret (whsec_…), shown only this once: verify Switchboard-Signature with it" }) secret: string;
}

@ObjectType()
export class CallbackSecret {
  @Field({ description: "Signs every callbackUrl delivery of yours from now on; shown only this once" }) secret: string;
  @Field() createdAt: Date;
}

@ObjectType({ description: "One HTTP attempt of a delivery" })
export class WebhookAttempt {
  @Field(() => Int) attemptNo: number;
  @Field({ description: "SUCCEEDED (2xx), FAILED or BLOCKED" }) status: string;
  @Field(() => Int, { nullable: true }) statusCode: number | null;
  @Field(() => Int) latencyMs: number;
  @Field(() => String, { nullable: true, description: "The start of the response body (≤ 500 characters)" }) responseExcerpt: string | null;
  @Field(() => String, { nullable: true }) error: string | null;
  @Field() createdAt: Date;
}

@ObjectType({ description: "One event sent to one target, with every attempt" })
export class WebhookDelivery {
  @Field(() => ID) id: string;
  @Field(() => ID, { description: "The body's `id`: the same for every target, attempt and redelivery of one event" }) eventId: string;
  @Field(() => ID) userId: string;
  @Field(() => WebhookEventType) event: WebhookEventType;
  @Field(() => WebhookTarget) target: WebhookTarget;
  @Field(() => ID, { nullable: true }) endpointId: string | null;
  @Field(() => ID, { nullable: true }) generationId: string | null;
  @Field() url: string;
  @Field({ description: "The JSON body exactly as signed and sent" }) body: string;
  @Field(() => WebhookDeliveryStatus) status: WebhookDeliveryStatus;
  @Field(() => Int) attemptCount: number;
  @Field(() => Int, { nullable: true }) lastStatusCode: number | null;
  @Field(() => String, { nullable: true }) lastError: string | null;
  @Field(() => Date, { nullable: true, description: "When the next attempt is due (PENDING)" }) nextAttemptAt: Date | null;
  @Field(() => Date, { nullable: true }) deliveredAt: Date | null;
  @Field() createdAt: Date;
  @Field() updatedAt: Date;
  @Field(() => [WebhookAttempt]) attempts: WebhookAttempt[];
}
