/**
 * Where subscriptions are served, in one sentence for clients that send one over plain
 * HTTP POST/GET (answered BAD_REQUEST with this message). Name every transport here.
 */
export function subscriptionTransportsMessage(publicUrl: string): string {
  const ws = `${publicUrl.replace(/^http/, "ws")}/graphql`;
  return `Subscriptions are served over WebSocket at ${ws} (graphql-ws protocol), not over HTTP POST or GET`;
}
