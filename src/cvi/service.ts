import path from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { ResourceApi } from "../kube/resource.js";
import type { KubeObjectStore } from "../kube/object-store.js";
import { SqliteKubeObjects } from "../meta/sqlite/kube-objects.js";
import type { Registry } from "../registry/index.js";
import { CviController } from "./controller.js";
import type { ImportRunner } from "./ports.js";
import { registryPort } from "./registry-port.js";
import { CLUSTER_VIRTUAL_IMAGE } from "./resource.js";

/** How often Ready images are checked for a lost manifest or blob. */
const LOST_CHECK_MS = 30_000;

/**
 * ClusterVirtualImages in one piece: their objects (in the registry's meta.db), the API rules
 * over them, and the controller that provisions them into `cvi/<name>`. `start(url)` once the
 * server listens: imports push to that URL.
 */
export class CviService {
  private baseUrl = "";

  private constructor(
    readonly store: KubeObjectStore,
    readonly api: ResourceApi,
    readonly controller: CviController,
  ) {}

  static open(config: Config, registry: Registry, runImport: ImportRunner, logger: Logger, options: { lostCheckIntervalMs?: number } = {}): CviService {
    const store = SqliteKubeObjects.open(registry.layout.databaseFile, { retainChanges: config.cvi.watchHistory });
    const api = new ResourceApi(CLUSTER_VIRTUAL_IMAGE, store);
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
      stagingDir: path.join(registry.layout.root, "cvi-uploads"),
      lostCheckIntervalMs: options.lostCheckIntervalMs ?? LOST_CHECK_MS,
    };
    const controller = new CviController(api, runImport, registryPort(registry, config, () => service!.baseUrl), settings, logger.child({ module: "cvi" }));
    service = new CviService(store, api, controller);
    return service;
  }

  /** Start the lifecycle; `url` is where this server answers (loopback pushes go there). */
  async start(url: string): Promise<void> {
    this.baseUrl = url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:");
    await this.controller.start();
  }

  async close(): Promise<void> {
    await this.controller.stop();
    this.store.close();
  }
}
