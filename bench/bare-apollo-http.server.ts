/** Child process: bare Apollo 5 from a plain node:http handler (executeHTTPGraphQLRequest). */
import http from "node:http";
import { ApolloServer, HeaderMap } from "@apollo/server";

async function main() {
  const apollo = new ApolloServer({ typeDefs: "type Query { ok: Boolean }", resolvers: { Query: { ok: () => true } } });
  await apollo.start();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const r = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method!, headers, search: "", body: JSON.parse(Buffer.concat(chunks).toString() || "null") },
        context: async () => ({}),
      });
      res.statusCode = r.status ?? 200;
      for (const [k, v] of r.headers) res.setHeader(k, v);
      res.end(r.body.kind === "complete" ? r.body.string : "");
    });
  });
  server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as { port: number }).port }));
}
void main();
