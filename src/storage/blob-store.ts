/** Where generated media live. Keys are opaque strings chosen by the caller (e.g. "<generationId>/0.png"). */
export interface StoredBlob {
  data: Buffer;
  mimeType: string;
  sizeBytes: number;
  createdAt: Date;
}

export interface BlobStore {
  readonly kind: "postgres" | "s3";
  put(key: string, data: Buffer, mimeType: string): Promise<void>;
  /** null when the key does not exist. */
  get(key: string): Promise<StoredBlob | null>;
  delete(key: string): Promise<void>;
  /** Deletes every blob created before `cutoff`; returns how many were deleted. */
  deleteOlderThan(cutoff: Date): Promise<number>;
}
