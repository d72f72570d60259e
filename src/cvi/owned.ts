import { storeKeyOf } from "../kube/resource.js";
import type { ObjectMetadata } from "../meta/index.js";
import { cviRepository } from "./names.js";
import { CLUSTER_VIRTUAL_IMAGE } from "./resource.js";

/**
 * The repositories of the ClusterVirtualImages that exist (being deleted included: their
 * cleanup removes the repository itself). GC's keep list never drops these.
 */
export async function cviRepositories(objects: Pick<ObjectMetadata, "list">): Promise<string[]> {
  const { items } = await objects.list(storeKeyOf(CLUSTER_VIRTUAL_IMAGE));
  return items.map((o) => cviRepository(o.metadata.name));
}
