import type { IncomingMessage } from "node:http";
import { createHash } from "node:crypto";
import { parse } from "graphql";
import { describe, expect, it } from "vitest";
import { boundedDocumentStore, checkOperations, documentSize, operationsOf } from "./graphql-guard";
import { clientAddress, HttpError } from "./http-utils";
import { isStoreUnavailable } from "./unavailable";

const codeOf = (fn: () => void) => {
  try {
    fn();
    return null;
  } catch (e) {
    return (e as HttpError).code;
  }
};

describe("graphql guard", () => {
  it("sizes a document by the source text it keeps alive, not only its JSON", () => {
    const padded = parse("{ __typename }" + " ".repeat(900_000));
    expect(JSON.stringify(padded).length).toBeLessThan(1000); // what Apollo's default counted
    expect(documentSize(padded)).toBeGreaterThan(900_000);
  });

  it("a byte-bounded document store evicts instead of growing", async () => {
    const store = boundedDocumentStore(2 * 1024 * 1024);
    for (let i = 0; i < 50; i++) await store.set(`k${i}`, parse(`{ x${i}: __typename }` + " ".repeat(200_000)));
    expect(store.keys().length).toBeLessThanOrEqual(10);
  });

  it("refuses an over-long query (in UTF-8 bytes) and a persisted-query hash that is not the query's", () => {
    expect(codeOf(() => checkOperations([{ query: "{ a }" + " ".repeat(2000) }], 1024))).toBe("BAD_REQUEST");
    expect(codeOf(() => checkOperations([{ query: "{ a }" + "é".repeat(600) }], 1024))).toBe("BAD_REQUEST"); // 1,205 bytes in 605 chars
    expect(codeOf(() => checkOperations([{ query: "{ a }" }], 1024))).toBeNull();
    const query = "{ me { id } }";
    const sha256Hash = createHash("sha256").update(query).digest("hex");
    expect(codeOf(() => checkOperations([{ query, extensions: { persistedQuery: { sha256Hash } } }], 1024))).toBeNull();
    expect(codeOf(() => checkOperations([{ query, extensions: { persistedQuery: { sha256Hash: "0".repeat(64) } } }], 1024))).toBe("PERSISTED_QUERY_HASH_MISMATCH");
  });

  it("finds the operations of a POST body, a batch and a GET query string", () => {
    expect(operationsOf("POST", { query: "{ a }" }, "")).toHaveLength(1);
    expect(operationsOf("POST", [{ query: "{ a }" }, { query: "{ b }" }], "")).toHaveLength(2);
    expect(operationsOf("POST", "not json", "")).toEqual([]);
    expect(operationsOf("GET", undefined, "?query=%7B%20a%20%7D")).toEqual([{ query: "{ a }", extensions: undefined }]);
    expect(operationsOf("GET", undefined, "")).toEqual([]); // the landing page
  });

  it("takes the client address from the socket, or from X-Forwarded-For behind trusted proxies", () => {
    const req = (xff?: string) => ({ socket: { remoteAddress: "10.0.0.9" }, headers: xff ? { "x-forwarded-for": xff } : {} }) as unknown as IncomingMessage;
    expect(clientAddress(req("1.2.3.4"), 0)).toBe("10.0.0.9"); // not trusted: a client could claim anything
    expect(clientAddress(req("6.6.6.6, 1.2.3.4"), 1)).toBe("1.2.3.4"); // the entry our proxy added
    expect(clientAddress(req("6.6.6.6, 1.2.3.4, 10.0.0.2"), 2)).toBe("1.2.3.4");
    expect(clientAddress(req(), 1)).toBe("10.0.0.9");
  });

  it("recognises a store outage among socket, SQLSTATE, pg-pool and wrapped errors", () => {
    expect(isStoreUnavailable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isStoreUnavailable({ code: "57P01" })).toBe(true);
    expect(isStoreUnavailable(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isStoreUnavailable(Object.assign(new Error("Query runner already released. Cannot run queries anymore."), { name: "QueryRunnerAlreadyReleasedError" }))).toBe(true);
    expect(isStoreUnavailable({ originalError: { driverError: { code: "08006" } } })).toBe(true);
    expect(isStoreUnavailable(new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })]))).toBe(true);
    expect(isStoreUnavailable({ code: "23505" })).toBe(false); // a unique violation is a bug or a conflict, not an outage
    expect(isStoreUnavailable(new Error("relation does not exist"))).toBe(false);
  });
});
