import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { ResourceApi } from "../kube/resource.js";
import type { KubeObjectStore } from "../kube/object-store.js";
import { SqliteKubeObjects } from "../meta/sqlite/kube-objects.js";
import type { Registry } from "../registry/index.js";
import { CLUSTER_VIRTUAL_IMAGE } from "./resource.js";

/**
 * ClusterVirtualImages in one piece: their objects (in the registry's meta.db), the API rules
 * over them, and (see controller.ts) the lifecycle that provisions them into `cvi/<name>`.
 */
export class CviService {
  private constructor(
    readonly store: KubeObjectStore,
    readonly api: ResourceApi,
  ) {}

  static open(config: Config, registry: Registry, _logger: Logger): CviService {
    const store = SqliteKubeObjects.open(registry.layout.databaseFile, { retainChanges: config.cvi.watchHistory });
    return new CviService(store, new ResourceApi(CLUSTER_VIRTUAL_IMAGE, store));
  }

  close(): void {
    this.store.close();
  }
}
