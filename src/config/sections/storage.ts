/** Where media live (Postgres or S3) and how their signed URLs work. */
import { bool, int, oneOf, opt, str } from "../spec";

export const files = {
  /** Where media live: "postgres" (nothing to set up) or "s3". */
  store: oneOf("BLOB_STORE", "postgres", ["postgres", "s3"] as const),
  /** HMAC secret for file URLs; unset: generated once and kept in the settings table. */
  signingSecret: opt("FILES_SIGNING_SECRET"),
  /** Lifetime of a signed URL, seconds. */
  urlTtlSeconds: int("FILE_URL_TTL_SECONDS", 3600, 1),
  /** Media older than this are deleted by the maintenance job, days. */
  retentionDays: int("BLOB_RETENTION_DAYS", 30, 1),
  /** The S3-compatible store (MinIO works) when BLOB_STORE=s3. */
  s3: {
    /** e.g. http://minio:9000; unset: AWS defaults. */
    endpoint: opt("S3_ENDPOINT"),
    /** The bucket's region. */
    region: str("S3_REGION", "us-east-1"),
    /** The bucket media are written to. */
    bucket: str("S3_BUCKET", "switchboard"),
    /** Credentials; unset: the AWS SDK's default chain. */
    accessKeyId: opt("S3_ACCESS_KEY_ID"),
    secretAccessKey: opt("S3_SECRET_ACCESS_KEY"),
    /** Path-style bucket URLs (http://host/bucket/key), as MinIO needs. */
    forcePathStyle: bool("S3_FORCE_PATH_STYLE", true),
  },
};
