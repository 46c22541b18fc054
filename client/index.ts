/** The Switchboard client package: typed operations (TypedDocumentNode) and webhook verification. */
export * from "./generated/graphql";
export { verifyWebhook, SIGNATURE_HEADER, type VerifyWebhookOptions, type WebhookVerification } from "./webhooks";
