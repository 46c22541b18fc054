/** Child process: bare Apollo 5 on express 5 (the baseline), printing its port over IPC. */
import http from "node:http";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import express from "express";

async function main() {
  const apollo = new ApolloServer({ typeDefs: "type Query { ok: Boolean }", resolvers: { Query: { ok: () => true } } });
  await apollo.start();
  const app = express();
  app.use("/graphql", express.json(), expressMiddleware(apollo));
  const server = http.createServer(app);
  server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as { port: number }).port }));
}
void main();
