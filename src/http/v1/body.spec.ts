import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readJsonBody } from "./body";

const req = (body: string) => Object.assign(Readable.from([Buffer.from(body)]), { headers: {} }) as unknown as IncomingMessage;

describe("readJsonBody", () => {
  it("parses one JSON object", async () => {
    expect(await readJsonBody(req(`{"model":"m"}`), 1024)).toEqual({ model: "m" });
  });

  it("refuses an empty body, broken JSON and non-objects with 400, and a body past the cap with 413", async () => {
    for (const b of ["", "{nope", "[1]", "3"]) await expect(readJsonBody(req(b), 1024)).rejects.toMatchObject({ status: 400 });
    await expect(readJsonBody(req(`{"a":"${"x".repeat(100)}"}`), 50)).rejects.toMatchObject({ status: 413 });
  });
});
