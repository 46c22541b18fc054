import { registerEnumType } from "type-graphql";

export enum Modality { TEXT = "TEXT", IMAGE = "IMAGE", VIDEO = "VIDEO", AUDIO = "AUDIO", EMBEDDING = "EMBEDDING" }
export enum GenerationStatus { QUEUED = "QUEUED", RUNNING = "RUNNING", SUCCEEDED = "SUCCEEDED", FAILED = "FAILED", CANCELLED = "CANCELLED" }
export enum Priority { HIGH = "HIGH", NORMAL = "NORMAL", LOW = "LOW", BATCH = "BATCH" }
export enum Role { ADMIN = "ADMIN", USER = "USER" }
export enum Tier { FREE = "free", PRO = "pro", ENTERPRISE = "enterprise" }
export enum ResponseFormat { TEXT = "TEXT", JSON = "JSON" }
export enum MessageRole { SYSTEM = "system", USER = "user", ASSISTANT = "assistant", TOOL = "tool" }
export enum ContentPartType { TEXT = "text", IMAGE_URL = "image_url" }
export enum GenerationSource { GRAPHQL = "GRAPHQL", OPENAI = "OPENAI", ANTHROPIC = "ANTHROPIC" }
export enum GenerationEventType {
  SNAPSHOT = "SNAPSHOT", QUEUED = "QUEUED", STARTED = "STARTED", PROGRESS = "PROGRESS", DELTA = "DELTA",
  RESTARTED = "RESTARTED", RETRYING = "RETRYING", FALLBACK = "FALLBACK", SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED", CANCELLED = "CANCELLED",
}

registerEnumType(Modality, { name: "Modality" });
registerEnumType(GenerationStatus, { name: "GenerationStatus" });
registerEnumType(Priority, {
  name: "Priority",
  valuesConfig: {
    BATCH: { description: "Through the provider's batch API (OpenAI Batch, Anthropic Message Batches) at its batch price, finished within 24 h; LOW on providers without one" },
  },
});
registerEnumType(Role, { name: "Role" });
registerEnumType(Tier, { name: "Tier", description: "Service tier: limits and defaults depend on it" });
registerEnumType(ResponseFormat, { name: "ResponseFormat" });
registerEnumType(MessageRole, { name: "MessageRole" });
registerEnumType(ContentPartType, { name: "ContentPartType" });
registerEnumType(GenerationSource, { name: "GenerationSource", description: "The API a generation was requested through: GraphQL or a /v1 endpoint" });
registerEnumType(GenerationEventType, { name: "GenerationEventType" });
