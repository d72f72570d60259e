import type { FigureDefinition, Sizes } from "../figure.js";
import { sizeLabel } from "../figure.js";
import type { RunningRegistry } from "../servers.js";
import { MiB } from "../timing.js";

/** The memory bound: a multi-GiB push must not grow the server. */
const PUSH_RSS_LIMIT_MIB = 150;

export const peakRssFigures = (sizes: Sizes): FigureDefinition[] => [
  {
    id: "rss_push_monolithic",
    title: `peak RSS during ${sizeLabel(sizes.blobBytes)} monolithic push`,
    unit: "MiB",
    better: "lower",
    targets: [{ kind: "peak", atMost: PUSH_RSS_LIMIT_MIB }],
  },
  {
    id: "rss_push_chunked",
    title: `peak RSS during ${sizeLabel(sizes.blobBytes)} chunked push`,
    unit: "MiB",
    better: "lower",
    targets: [{ kind: "peak", atMost: PUSH_RSS_LIMIT_MIB }],
  },
  {
    id: "rss_pull",
    title: `peak RSS during ${sizeLabel(sizes.blobBytes)} pull`,
    unit: "MiB",
    better: "lower",
    targets: [],
  },
];

/** VmHWM of a server started for this phase alone, in MiB. */
export function peakRssMiB(server: RunningRegistry): number {
  return server.peakRssBytes() / MiB;
}
