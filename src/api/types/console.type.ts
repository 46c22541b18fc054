import { Field, ObjectType } from "type-graphql";

@ObjectType({ description: "A short-lived link to Bull Board (/admin/queues): the signed token is in the path, so a browser can open it without an Authorization header" })
export class BullBoardLink {
  @Field({ description: "Absolute, from PUBLIC_URL" }) url: string;
  @Field({ description: "The same link as a path on this server (/admin/queues/s/<token>/)" }) path: string;
  @Field() expiresAt: Date;
}
