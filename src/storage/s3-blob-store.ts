import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { BlobStore, StoredBlob } from "./blob-store";

/** Connection settings for an S3-compatible object store (AWS S3, MinIO, R2, …). */
export interface S3BlobStoreOptions {
  /** Custom endpoint, e.g. `http://127.0.0.1:9000` for MinIO. Default: AWS for `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Static credentials; when omitted the SDK's default provider chain is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`); required by MinIO and most self-hosted stores. */
  forcePathStyle: boolean;
  /** Prefix prepended to every key, e.g. `"media/"`. Default: none. */
  keyPrefix?: string;
}

function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === "NoSuchKey" || err.name === "NotFound" || err.$metadata.httpStatusCode === 404;
}

/** Blob store backed by one S3 bucket; the content type is stored as the object's ContentType. */
export class S3BlobStore implements BlobStore {
  readonly kind = "s3" as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly region: string;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.keyPrefix ?? "";
    this.region = opts.region;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: 2,
      credentials:
        opts.accessKeyId && opts.secretAccessKey
          ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
          : undefined,
      // The SDK's default CRC32 checksums (since 3.729) break some S3-compatible servers (older
      // MinIO, Ceph); only send checksums where the API requires them (e.g. DeleteObjects).
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  /** Creates the bucket (in `region`) when HeadBucket reports it missing; a no-op otherwise. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // AWS rejects an explicit us-east-1 constraint and requires one for every other region.
      const config =
        this.region === "us-east-1" ? undefined : { LocationConstraint: this.region as BucketLocationConstraint };
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket, CreateBucketConfiguration: config }));
    }
  }

  /** Uploads (or overwrites) the object. */
  async put(key: string, data: Buffer, mimeType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: data,
        ContentType: mimeType,
        ContentLength: data.length,
      }),
    );
  }

  /** Downloads the object; null on NoSuchKey / 404. */
  async get(key: string): Promise<StoredBlob | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const data = Buffer.from(await res.Body!.transformToByteArray());
      return {
        data,
        mimeType: res.ContentType ?? "application/octet-stream",
        sizeBytes: data.length,
        createdAt: res.LastModified ?? new Date(),
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Deletes the object; a missing key is not an error (S3 semantics). */
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
  }

  /**
   * Deletes every object under `keyPrefix` whose LastModified is before `cutoff`.
   * Each listed page (at most 1000 keys) is deleted with one DeleteObjects call before the
   * next page is fetched, so memory stays bounded; continuation tokens survive the deletes.
   */
  async deleteOlderThan(cutoff: Date): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, ContinuationToken: token }),
      );
      const stale = (page.Contents ?? [])
        .filter((obj) => obj.Key && obj.LastModified && obj.LastModified < cutoff)
        .map((obj) => obj.Key!);
      if (stale.length > 0) deleted += await this.deleteBatch(stale);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return deleted;
  }

  private async deleteBatch(keys: string[]): Promise<number> {
    const res = await this.client.send(
      new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
    );
    const failed = res.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new Error(`S3 DeleteObjects failed for ${failed.length} of ${keys.length} key(s), e.g. ${first.Key}: ${first.Code}`);
    }
    return keys.length;
  }
}
