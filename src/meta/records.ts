/** Rows of the metadata store, as the rest of dvcr sees them. */
export interface UploadRecord {
  id: string;
  repository: string;
  size: number;
  createdAt: number;
  updatedAt: number;
}

export interface ManifestRecord {
  id: number;
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  content: Buffer;
  artifactType: string | null;
  subject: string | null;
  annotations: Record<string, string> | null;
  createdAt: number;
  /** When its GC grace period started (pushed, last untagged or dereferenced, or last looked up). */
  graceSince: number;
}

export type ManifestSummary = Omit<ManifestRecord, "content" | "repository">;

export interface NewManifest {
  digest: string;
  mediaType: string;
  content: Buffer;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  blobs: string[];
  manifests: string[];
}

export interface Page {
  limit?: number;
  last?: string;
}
