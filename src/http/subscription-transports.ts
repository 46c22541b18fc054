/**
 * Where subscriptions are served, in one sentence for clients that send one over plain
 * HTTP POST/GET (answered BAD_REQUEST with this message). Name every transport here.
 */
export function subscriptionTransportsMessage(publicUrl: string): string {
  const ws = `${publicUrl.replace(/^http/, "ws")}/graphql`;
  const sse = `${publicUrl}/graphql/stream`; // sse.ts SSE_PATH
  return `Subscriptions are served over WebSocket at ${ws} (graphql-ws protocol) and over Server-Sent Events at ${sse} (graphql-sse protocol, Accept: text/event-stream), not over plain HTTP POST or GET to /graphql`;
}
