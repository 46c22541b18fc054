import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { DataSource } from "typeorm";
import type { BlobStore } from "./blob-store";
import { PostgresBlobStore } from "./postgres-blob.store";
import { S3BlobStore } from "./s3-blob-store";

// pg and s3rver ship no types here (no @types/pg installed), so both are required through the
// slice of their API this spec uses.
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
const { Client } = require("pg") as { Client: new (opts: { connectionString: string }) => PgClient };

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: { address: string; port: number; silent: boolean; directory: string }) => S3rverInstance;
const S3rver = require("s3rver") as S3rverCtor;

/** A store under test plus a hook to make a stored blob look `ageMs` old, when the backend allows it. */
interface Harness {
  store: BlobStore;
  backdate?: (key: string, ageMs: number) => Promise<void>;
  teardown(): Promise<void>;
}

const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

async function postgres(): Promise<Harness> {
  const db = `sb_blob_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const ds = new DataSource({ type: "postgres", url: `postgres://postgres@127.0.0.1:5432/${db}`, entities: [] });
  await ds.initialize();
  await ds.query(`CREATE TABLE blobs (key text PRIMARY KEY, mime_type text NOT NULL, size_bytes integer NOT NULL,
    data bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  return {
    store: new PostgresBlobStore(ds),
    backdate: async (key, ageMs) => {
      await ds.query(`UPDATE blobs SET created_at = now() - make_interval(secs => $2) WHERE key = $1`, [key, ageMs / 1000]);
    },
    teardown: async () => {
      await ds.destroy();
      const c = new Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function s3(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "sb-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir });
  const { port } = await server.run();
  const store = new S3BlobStore({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    bucket: "blobs-test",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    forcePathStyle: true,
    keyPrefix: "media/",
  });
  await store.ensureBucket();
  await store.ensureBucket(); // idempotent
  return {
    store,
    teardown: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // 0x00 … 0xff
const HOUR = 3_600_000;

for (const make of [postgres, s3]) {
  describe(make.name, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await make();
    });
    afterAll(async () => {
      await h?.teardown();
    });

    it("reports its kind", () => {
      expect(h.store.kind).toBe(make.name);
    });

    it("round-trips binary data with mime type and size", async () => {
      const data = Buffer.concat([Buffer.from([0x00, 0xff, 0x00]), ALL_BYTES, Buffer.from([0xff])]);
      const before = Date.now();
      await h.store.put("gen_1/0.png", data, "image/png");
      const got = await h.store.get("gen_1/0.png");
      expect(got).not.toBeNull();
      expect(Buffer.compare(got!.data, data)).toBe(0);
      expect(got!.mimeType).toBe("image/png");
      expect(got!.sizeBytes).toBe(data.length);
      expect(got!.createdAt).toBeInstanceOf(Date);
      // S3 LastModified has one-second resolution.
      expect(got!.createdAt.getTime()).toBeGreaterThanOrEqual(before - 2000);
    });

    it("stores an empty blob", async () => {
      await h.store.put("empty.bin", Buffer.alloc(0), "application/octet-stream");
      const got = await h.store.get("empty.bin");
      expect(got?.sizeBytes).toBe(0);
      expect(got?.data.length).toBe(0);
    });

    it("overwrites an existing key", async () => {
      await h.store.put("over.txt", Buffer.from("first version"), "text/plain");
      await h.store.put("over.txt", Buffer.from([0xff, 0x00]), "application/octet-stream");
      const got = await h.store.get("over.txt");
      expect([...got!.data]).toEqual([0xff, 0x00]);
      expect(got!.mimeType).toBe("application/octet-stream");
      expect(got!.sizeBytes).toBe(2);
    });

    it("returns null for a missing key", async () => {
      expect(await h.store.get("no/such/key.png")).toBeNull();
    });

    it("deletes, and deleting a missing key is not an error", async () => {
      await h.store.put("del.png", Buffer.from([1, 2, 3]), "image/png");
      await h.store.delete("del.png");
      expect(await h.store.get("del.png")).toBeNull();
      await expect(h.store.delete("del.png")).resolves.toBeUndefined();
    });

    it("deleteOlderThan removes only blobs created before the cutoff", async () => {
      await h.store.put("old/a.png", Buffer.from([1]), "image/png");
      await h.store.put("old/b.png", Buffer.from([2]), "image/png");
      await h.store.put("new/c.png", Buffer.from([3]), "image/png");
      if (h.backdate) {
        await h.backdate("old/a.png", 2 * HOUR);
        await h.backdate("old/b.png", 2 * HOUR);
        expect(await h.store.deleteOlderThan(new Date(Date.now() - HOUR))).toBe(2);
        expect(await h.store.get("old/a.png")).toBeNull();
        expect(await h.store.get("old/b.png")).toBeNull();
        expect(await h.store.get("new/c.png")).not.toBeNull();
      } else {
        // No way to backdate an S3 object: a past cutoff keeps everything…
        expect(await h.store.deleteOlderThan(new Date(Date.now() - HOUR))).toBe(0);
        expect(await h.store.get("old/a.png")).not.toBeNull();
      }
      // …and a future cutoff removes everything, whatever was stored before this test.
      const remaining = await h.store.deleteOlderThan(new Date(Date.now() + HOUR));
      expect(remaining).toBeGreaterThanOrEqual(1);
      for (const key of ["old/a.png", "new/c.png", "gen_1/0.png", "over.txt"]) {
        expect(await h.store.get(key)).toBeNull();
      }
      expect(await h.store.deleteOlderThan(new Date(Date.now() + HOUR))).toBe(0);
    });
  });
}
