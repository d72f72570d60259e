import path from "node:path";
import type { Logger } from "pino";
import type { OpenRegistry } from "../assembly/open-registry.js";
import { ResourceApi } from "../kube/resource.js";
import { CviController } from "./controller.js";
import type { ImportRunner } from "./ports.js";
import { registryPort } from "./registry-port.js";
import { isCviRepository } from "./names.js";
import { CLUSTER_VIRTUAL_IMAGE } from "./resource.js";

/** How often Ready images are checked for a lost manifest or blob (also checked after deletes and scrubs). */
const LOST_CHECK_MS = 30_000;

/**
 * ClusterVirtualImages in one piece: the API rules over their objects (kept by the registry's
 * metadata) and the controller that provisions them into `cvi/<name>`. Built by `dvcr serve`
 * over the opened registry; `start(url)` once the server listens: imports push to that URL.
 */
export class CviService {
  private baseUrl = "";

  private constructor(
    readonly api: ResourceApi,
    readonly controller: CviController,
  ) {}

  static open(registry: OpenRegistry, runImport: ImportRunner, logger: Logger, options: { lostCheckIntervalMs?: number } = {}): CviService {
    const { config } = registry;
    const api = new ResourceApi(CLUSTER_VIRTUAL_IMAGE, registry.meta.objects);
    let service: CviService | undefined;
    const settings = {
      registryHost: config.cvi.registryHost,
      uploadURL: {
        get external() {
          return config.cvi.uploadURL.external ?? `${service?.baseUrl ?? ""}/upload`;
        },
        inCluster: config.cvi.uploadURL.inCluster,
      },
      uploadTimeoutMs: config.cvi.uploadTimeout,
      secretsDir: config.cvi.secretsDir,
      progressIntervalMs: config.cvi.progressInterval,
      stagingDir: path.join(config.root, "cvi-uploads"),
      lostCheckIntervalMs: options.lostCheckIntervalMs ?? LOST_CHECK_MS,
    };
    const controller = new CviController(api, runImport, registryPort(registry, () => service!.baseUrl), settings, logger.child({ module: "cvi" }));
    service = new CviService(api, controller);
    // What the registry loses, through its API or found by scrub, shows as ImageLost at once.
    registry.manifests.onDelete((repository) => isCviRepository(repository) && controller.checkLostSoon());
    registry.operations.onRepositoryDeleted((repository) => isCviRepository(repository) && controller.checkLostSoon());
    registry.tasks.onEvent((event) => event.type === "finished" && event.task === "scrub" && controller.checkLostSoon());
    return service;
  }

  /** Start the lifecycle; `url` is where this server answers (loopback pushes go there). */
  async start(url: string): Promise<void> {
    this.baseUrl = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:");
    await this.controller.start();
  }

  /** End every open watch (before a graceful shutdown drains the requests in flight). */
  endWatches(): void {
    this.api.closeWatches();
  }

  /** Stop the lifecycle (imports cancelled, resumed at the next start) and end every watch. */
  async close(): Promise<void> {
    await this.controller.stop();
    this.api.closeWatches();
  }
}
