import type { ApolloServerPlugin } from "@apollo/server";
import type { GraphQLContext } from "../api/context";
import type { Metrics } from "../observability/metrics";
import { KNOWN_CODES } from "./format-error";

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
            operation: rc.operationName ?? "anonymous",
            type: rc.operation?.operation ?? "unknown",
            outcome: failed ? "error" : "ok",
          });
        },
      };
    },
  };
}
