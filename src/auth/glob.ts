/**
 * Repository globs of `auth.htpasswd.access`: `*` matches within one path component,
 * `**` across components (`vi/**` is every VirtualImage, `cvi/*` every ClusterVirtualImage).
 * They are only ever matched against names that already passed the spec grammar.
 */
export function compileRepositoryGlob(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") {
      source += "[^/]*";
    } else {
      source += c.replace(/[.\\+?^${}()|[\]-]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}
