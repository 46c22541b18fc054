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
  constructor(message = "A valid API key is required: send 'Authorization: Bearer <key>'") {
    super(message, "UNAUTHENTICATED");
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
  constructor(message: string, details: { retryAfterSeconds?: number } = {}) {
    super(message, "SERVICE_UNAVAILABLE", details);
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
