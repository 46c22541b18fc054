import type { ApolloServerPlugin } from "@apollo/server";
import type { GraphQLContext } from "../api/context";
import type { Metrics } from "../observability/metrics";
import { KNOWN_CODES } from "./format-error";

/**
 * Operation names that get their own metric label: the typed client's operations
 * (client/operations/*.graphql; operations.plugin.spec.ts keeps this list in step) and the
 * explorers' introspection. Any other name is "other", so a client cannot grow the series
 * count by naming operations at random.
 */
export const KNOWN_OPERATIONS: ReadonlySet<string> = new Set([
  "Me", "Providers", "Models", "CreateGeneration", "CancelGeneration", "Generation", "Generations", "EstimateCost",
  "GenerationUpdated", "MyGenerations", "Metrics", "Health", "Alerts", "AlertRaised", "ProviderStatus", "ModelAliases",
  "CircuitStateChanged", "CircuitEvents", "AddProviderKey", "DisableProviderKey", "EnableProviderKey", "RemoveProviderKey",
  "ForceOpenCircuit", "ResetCircuit", "OllamaModels", "PullOllamaModel", "OllamaPullProgress", "Quota", "SetQuota",
  "QuotaUpdated", "CreateWebhookEndpoint", "WebhookEndpoints", "DeleteWebhookEndpoint", "RotateCallbackSecret",
  "WebhookDeliveries", "RedeliverWebhook",
  "IntrospectionQuery",
]);

/** The `operation` label: a known name, "anonymous" (no name) or "other". */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return "anonymous";
  return KNOWN_OPERATIONS.has(name) ? name : "other";
}

const OPERATION_TYPES = new Set(["query", "mutation", "subscription"]);

/** The `type` label: query | mutation | subscription | unknown (did not parse or resolve). */
export function operationTypeLabel(type: string | null | undefined): string {
  return type && OPERATION_TYPES.has(type) ? type : "unknown";
}

/** Counts operations by name and outcome; logs internal errors with the request id. */
export function operationsPlugin(metrics: Metrics): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors(rc) {
          for (const err of rc.errors) {
            const code = err.extensions?.code as string | undefined;
            if (!code || !KNOWN_CODES.has(code))
              rc.contextValue.log.error({ err: err.originalError ?? err, path: err.path }, "internal error in GraphQL operation");
          }
        },
        async willSendResponse(rc) {
          const body = rc.response.body;
          const failed = body.kind === "single" && !!body.singleResult.errors?.length;
          metrics.graphqlOperations.inc({
            operation: operationLabel(rc.operationName),
            type: operationTypeLabel(rc.operation?.operation),
            outcome: failed ? "error" : "ok",
          });
        },
      };
    },
  };
}
