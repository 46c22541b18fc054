/**
 * API errors: small GraphQLError subclasses with a literal `extensions.code` and the
 * details a client needs to act on them.
 */
import { GraphQLError } from "graphql";

abstract class ApiError extends GraphQLError {
  constructor(message: string, code: string, details: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...details } });
    this.name = new.target.name;
  }
}

export class UnauthenticatedError extends ApiError {
  /** @param details `reason` (invalid, revoked, expired, disabled) when a key was presented and refused. */
  constructor(message = "A valid API key is required: send 'Authorization: Bearer <key>'", details: { reason?: string } = {}) {
    super(message, "UNAUTHENTICATED", details);
  }
}

export class ForbiddenError extends ApiError {
  constructor(message = "You are not allowed to do this") {
    super(message, "FORBIDDEN");
  }
}

export class BadUserInputError extends ApiError {
  constructor(message: string, details: { field?: string; [k: string]: unknown } = {}) {
    super(message, "BAD_USER_INPUT", details);
  }
}

export class NotFoundError extends ApiError {
  constructor(what: string, id: string) {
    super(`${what} ${id} was not found`, "NOT_FOUND", { id });
  }
}

export class ConflictError extends ApiError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, "CONFLICT", details);
  }
}

export class ServiceUnavailableError extends ApiError {
  /** @param details `reason` names a cause the client may act on (e.g. MODERATION_UNAVAILABLE). */
  constructor(message: string, details: { retryAfterSeconds?: number; reason?: string } = {}) {
    super(message, "SERVICE_UNAVAILABLE", details);
  }
}

/** Content moderation flagged the request (MODERATION): nothing was created or reserved. */
export class ContentPolicyError extends ApiError {
  constructor(message: string, details: { stage: "INPUT"; categories: string[]; classifier: string }) {
    super(message, "CONTENT_POLICY", details);
  }
}

export class QueueFullError extends ApiError {
  constructor(message: string, details: { depth: number; limit: number }) {
    super(message, "QUEUE_FULL", details);
  }
}

/** Errors on CLI/admin paths that are not GraphQL (printed as one line, exit non-zero). */
export class UserFacingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserFacingError";
  }
}
