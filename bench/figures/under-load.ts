import type { FigureDefinition } from "../figure.js";
import { runLoad } from "../wrk.js";

/** What containerd and podman send when they resolve a reference. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

export interface LoadSettings {
  connections: number;
  threads: number;
  seconds: number;
  workDir: string;
}

/** The seeded image every load figure reads. */
export interface SeededImage {
  repository: string;
  tag: string;
  manifestDigest: string;
  /**
   * The blob the HEAD figure asks for: an empty one. wrk's HTTP parser does not know it sent HEAD
   * and waits for Content-Length bytes of body that never come; with a length of 0 it completes.
   * Neither registry reads a blob's bytes for HEAD, so the size does not change the work.
   */
  headBlobDigest: string;
}

interface LoadCase {
  id: string;
  title: string;
  method: "GET" | "HEAD";
  path: (image: SeededImage) => string;
  headers: Record<string, string>;
  /** Also report the 99th percentile latency, with the target (≤ the reference's). */
  p99: boolean;
}

const CASES: LoadCase[] = [
  {
    id: "manifest_get_tag",
    title: "manifest GET by tag",
    method: "GET",
    path: (i) => `/v2/${i.repository}/manifests/${i.tag}`,
    headers: { Accept: MANIFEST_ACCEPT },
    p99: true,
  },
  {
    id: "manifest_get_digest",
    title: "manifest GET by digest",
    method: "GET",
    path: (i) => `/v2/${i.repository}/manifests/${i.manifestDigest}`,
    headers: { Accept: MANIFEST_ACCEPT },
    p99: true,
  },
  {
    id: "blob_head",
    title: "blob HEAD (0-byte blob)",
    method: "HEAD",
    path: (i) => `/v2/${i.repository}/blobs/${i.headBlobDigest}`,
    headers: {},
    p99: false,
  },
  { id: "tags_list", title: "tags list", method: "GET", path: (i) => `/v2/${i.repository}/tags/list`, headers: {}, p99: false },
];

export function underLoadFigures(settings: Pick<LoadSettings, "connections">): FigureDefinition[] {
  return CASES.flatMap((c) => [
    {
      id: `${c.id}_rps`,
      title: `${c.title}, ${settings.connections} connections`,
      unit: "req/s" as const,
      better: "higher" as const,
      targets: [{ kind: "ratio" as const, atLeast: 2.0 }],
    },
    ...(c.p99
      ? [
          {
            id: `${c.id}_p99`,
            title: `${c.title}, p99 latency under that load`,
            unit: "ms" as const,
            better: "lower" as const,
            targets: [{ kind: "ratio" as const, atMost: 1.0 }],
          },
        ]
      : []),
  ]);
}

/** Requests per second (and p99 where it has a target) of every load case against one server. */
export async function measureUnderLoad(url: string, image: SeededImage, settings: LoadSettings): Promise<Record<string, number>> {
  const samples: Record<string, number> = {};
  for (const c of CASES) {
    const result = await runLoad({ ...settings, method: c.method, url: `${url}${c.path(image)}`, headers: c.headers });
    samples[`${c.id}_rps`] = result.rps;
    if (c.p99) samples[`${c.id}_p99`] = result.p99Ms;
  }
  return samples;
}
