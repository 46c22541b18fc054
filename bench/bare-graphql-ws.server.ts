/**
 * Child process for `npm run bench:fanout`: the baseline, a bare graphql-ws server (graphql-js,
 * SDL schema, default resolvers) whose subscriptions read the same Redis channels through
 * graphql-redis-subscriptions (one Redis subscription per channel, as Switchboard's bus). No auth:
 * the client names its user in connectionParams.userId. Reports { port } over IPC.
 */
import http from "node:http";
import { buildSchema, type GraphQLFieldConfig } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { Redis } from "ioredis";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { serveFanoutStats } from "./fanout-child";

const SDL = `
type Generation { id: ID! status: String! modality: String! model: String! prompt: String system: String priority: String! seed: Int progress: Float! cached: Boolean! createdAt: String! startedAt: String completedAt: String }
type GenerationEvent { seq: Int! type: String! generation: Generation! progress: Float delta: String text: String message: String at: String! }
type Query { ok: Boolean }
type Subscription { myGenerations: GenerationEvent! generationUpdated(id: ID!): GenerationEvent! }
`;

async function main() {
  const prefix = process.env.BENCH_FANOUT_PREFIX!;
  const publisher = new Redis("redis://127.0.0.1:6379");
  const subscriber = new Redis("redis://127.0.0.1:6379");
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const schema = buildSchema(SDL);
  const fields = schema.getSubscriptionType()!.getFields() as unknown as Record<string, GraphQLFieldConfig<unknown, { userId: string }>>;
  fields.myGenerations.subscribe = (_r, _a, ctx) => pubsub.asyncIterableIterator(`${prefix}:USER_GENERATION_EVENT:${ctx.userId}`);
  fields.generationUpdated.subscribe = (_r, args) => pubsub.asyncIterableIterator(`${prefix}:GENERATION_EVENT:${args.id}`);
  fields.myGenerations.resolve = fields.generationUpdated.resolve = (ev) => ev;
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, path: "/graphql" });
  useServer({ schema, context: (ctx) => ({ userId: String(ctx.connectionParams?.userId ?? "") }) }, wss);
  server.listen(0, "127.0.0.1", () => {
    serveFanoutStats(async () => {
      for (const c of wss.clients) c.terminate();
      server.close();
      publisher.disconnect();
      subscriber.disconnect();
    });
    process.send!({ port: (server.address() as { port: number }).port });
  });
}
void main();
