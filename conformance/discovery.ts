import {
  OCI_INDEX,
  OCI_MANIFEST,
  artifactManifest,
  descriptorOf,
  expect,
  expectContentType,
  expectError,
  expectStatus,
  fail,
  imageManifest,
  indexManifest,
  randomBlob,
  sha256,
  type Manifest,
} from "./checks.js";
import { need, type AddCheck, type Context } from "./context.js";
import type { Reply } from "./http.js";

/**
 * Tags pushed in an order that is neither sorted nor reverse-sorted, all lowercase and without
 * `_`, so that byte order and the spec's "case-insensitive alphanumeric order" agree.
 */
const TAGS = ["v10", "v2", "a-1", "latest", "1.0", "v1", "z9", "b.2"];
const SORTED = [...TAGS].sort();
const TYPE_A = "application/vnd.conformance.type-a.v1";
const TYPE_B = "application/vnd.conformance.type-b.v1";
const ID = "org.opencontainers.conformance.id";

interface TagList {
  name?: unknown;
  tags?: unknown;
}

interface IndexDescriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The URL of a `Link: <url>; rel="next"` header (RFC 5988), or undefined when there is none. */
export function nextLink(r: Reply): string | undefined {
  const link = r.header("link");
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m) continue;
    for (const param of m[2]!.split(";")) {
      const p = /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param);
      if (p && p[1]!.split(/\s+/).includes("next")) return m[1]!;
    }
  }
  fail(`Link header without a well-formed <url>; rel="next" entry: ${link}`);
}

/** Content discovery: tags (sorted, paginated), the catalog, and the referrers API. */
export function discoveryChecks(ctx: Context, add: AddCheck): void {
  const { client } = ctx;
  const repo = ctx.repo("discovery");
  const get = (path: string) => client.request(path);
  let image: Manifest | undefined;
  const img = () => need(image, "set-up could not push the tagged image");

  const tagsOf = (r: Reply): string[] => {
    expectStatus(r, 200);
    const body = r.json() as TagList | undefined;
    expect(body && Array.isArray(body.tags) && body.tags.every((t) => typeof t === "string"), `not a tag list {"name","tags":[…]} (${r.describe()})`);
    return body.tags as string[];
  };
  /** A page asked with n: a run of `expected` from its start, n long unless a Link says there is more. */
  const expectPage = (r: Reply, got: string[], expected: string[], n: number) => {
    const link = r.header("link");
    expect(got.length <= n, `n=${n} returned ${got.length} tags: ${got.join(",")}`);
    expect(got.length === Math.min(n, expected.length) || (link !== null && got.length > 0), `n=${n} returned ${got.length} tags without a Link header: ${got.join(",")}`);
    expect(got.join() === expected.slice(0, got.length).join(), `expected ${expected.slice(0, n).join(",")}, got ${got.join(",")}`);
  };

  add("set-up: push an image under several tags", async () => {
    const m = imageManifest();
    await ctx.push.image(repo, m, ...TAGS);
    image = m;
  });
  add("tags list returns every tag", async () => {
    img();
    const res = await get(`/v2/${repo}/tags/list`);
    const got = tagsOf(res);
    expect((res.json() as TagList).name === repo, `name is ${JSON.stringify((res.json() as TagList).name)}, expected ${repo}`);
    expect([...got].sort().join() === SORTED.join(), `expected ${SORTED.join(",")}, got ${got.join(",")}`);
  });
  add("tags list is sorted lexically", async () => {
    img();
    const got = tagsOf(await get(`/v2/${repo}/tags/list`));
    expect(got.join() === SORTED.join(), `not in lexical order: ${got.join(",")}`);
  });
  add("tags list n limits the page", async () => {
    img();
    const res = await get(`/v2/${repo}/tags/list?n=3`);
    expectPage(res, tagsOf(res), SORTED, 3);
  });
  add("tags list n=0 returns an empty list without Link", async () => {
    img();
    const res = await get(`/v2/${repo}/tags/list?n=0`);
    const got = tagsOf(res);
    expect(got.length === 0, `n=0 returned ${got.join(",")}`);
    expect(res.header("link") === null, `n=0 sent Link: ${res.header("link")}`);
  });
  add("tags list Link header (when sent) leads to the next page", async () => {
    img();
    let res = await get(`/v2/${repo}/tags/list?n=3`);
    tagsOf(res);
    if (!res.header("link")) return "no Link header (the spec says MAY)";
    const seen: string[] = [];
    for (let pages = 0; ; pages++) {
      const got = tagsOf(res);
      expectPage(res, got, SORTED.slice(seen.length), 3);
      seen.push(...got);
      const next = nextLink(res);
      if (!next) break;
      expect(new URL(client.resolve(next)).pathname === `/v2/${repo}/tags/list`, `Link does not point at this repository's tags/list: ${next}`);
      expect(pages < 10, `more than 10 pages for ${SORTED.length} tags`);
      res = await get(next);
    }
    expect(seen.join() === SORTED.join(), `paging with Link returned ${seen.join(",")}`);
  });
  add("tags list last continues after the given tag", async () => {
    img();
    const after = SORTED.slice(3);
    const withN = await get(`/v2/${repo}/tags/list?n=3&last=${SORTED[2]}`);
    expectPage(withN, tagsOf(withN), after, 3);
    // "When using the last query parameter, the n parameter is OPTIONAL."
    const alone = await get(`/v2/${repo}/tags/list?last=${SORTED[2]}`);
    expectPage(alone, tagsOf(alone), after, after.length);
  });
  add("tags list of an unknown repository returns 404 NAME_UNKNOWN", async () => {
    expectError(await get(`/v2/${ctx.unknownRepo}/tags/list`), [404], ["NAME_UNKNOWN"]);
  });
  add("catalog lists the repository", async () => {
    img();
    // The catalog may be large on a shared registry: page through it (Link, or last=).
    let path: string | undefined = "/v2/_catalog?n=1000";
    for (let pages = 0; path && pages < 100; pages++) {
      const res = await get(path);
      expectStatus(res, 200);
      const repos = (res.json() as { repositories?: unknown } | undefined)?.repositories;
      expect(Array.isArray(repos), `not a catalog {"repositories":[…]} (${res.describe()})`);
      if (repos.includes(repo)) return;
      const last = repos[repos.length - 1];
      path = nextLink(res) ?? (repos.length === 1000 && typeof last === "string" ? `/v2/_catalog?n=1000&last=${encodeURIComponent(last)}` : undefined);
    }
    fail(`${repo} is not in the catalog`);
  });
  add("catalog n limits the page", async () => {
    img();
    const res = await get("/v2/_catalog?n=1");
    expectStatus(res, 200);
    const repos = (res.json() as { repositories?: unknown } | undefined)?.repositories;
    expect(Array.isArray(repos) && repos.length === 1, `expected 1 repository, got ${JSON.stringify(repos)} (${res.describe()})`);
  });

  // ---------------------------------------------------------------- referrers
  const missingSubject = sha256(randomBlob(32).data);
  let refs: { a1: Manifest; a2: Manifest; a3: Manifest; a4: Manifest } | undefined;
  const referrers = () => need(refs, "set-up could not push the referrers");
  add("set-up: push referrers of the image", async () => {
    const subject = descriptorOf(img());
    // a1: artifactType set; a2: none, so the config's media type stands in; a3: an index; a4: refers to a manifest never pushed.
    const a1 = artifactManifest({ artifactType: TYPE_A, subject, annotations: { [ID]: "a1" } });
    const a2 = artifactManifest({ configType: TYPE_B, subject, annotations: { [ID]: "a2" } });
    const a3 = indexManifest([img()], { artifactType: TYPE_A, subject, annotations: { [ID]: "a3" } });
    const a4 = artifactManifest({ artifactType: TYPE_A, subject: { mediaType: OCI_MANIFEST, digest: missingSubject, size: 1234 }, annotations: { [ID]: "a4" } });
    for (const m of [a1, a2, a3, a4]) await ctx.push.image(repo, m, m.digest);
    refs = { a1, a2, a3, a4 };
  });
  /** GET the referrers of `digest` (following Link pages), checking the response is an image index. */
  const referrersOf = async (digest: string, query = "") => {
    let res = await get(`/v2/${repo}/referrers/${digest}${query}`);
    const first = res;
    const manifests: IndexDescriptor[] = [];
    for (let pages = 0; ; pages++) {
      expectStatus(res, 200);
      expectContentType(res, OCI_INDEX);
      const index = res.json() as { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown } | undefined;
      expect(index && index.schemaVersion === 2 && index.mediaType === OCI_INDEX && Array.isArray(index.manifests), `not an image index (${res.describe()})`);
      manifests.push(...(index.manifests as IndexDescriptor[]));
      const next = nextLink(res);
      if (!next || pages >= 10) break;
      res = await get(next);
    }
    return { res: first, manifests };
  };
  const expectReferrers = (got: IndexDescriptor[], expected: { m: Manifest; artifactType?: string }[]) => {
    const want = expected.map((e) => e.m.digest).sort();
    const have = got.map((d) => d.digest ?? "?").sort();
    expect(have.join() === want.join(), `expected referrers ${want.join(",")}, got ${have.join(",") || "none"}`);
    for (const { m, artifactType } of expected) {
      const d = got.find((g) => g.digest === m.digest)!;
      expect(d.mediaType === m.mediaType && d.size === m.size, `descriptor of ${m.digest}: mediaType ${d.mediaType} size ${d.size}, expected ${m.mediaType} ${m.size}`);
      expect(d.artifactType === artifactType, `descriptor of ${m.digest}: artifactType ${d.artifactType}, expected ${artifactType}`);
    }
  };
  add("referrers returns an OCI image index", async () => {
    await referrersOf(img().digest);
  });
  add("referrers lists the referrers with their artifactType", async () => {
    const { a1, a2, a3 } = referrers();
    const { manifests } = await referrersOf(img().digest);
    // a2 has no artifactType: the registry MUST use its config's media type.
    expectReferrers(manifests, [
      { m: a1, artifactType: TYPE_A },
      { m: a2, artifactType: TYPE_B },
      { m: a3, artifactType: TYPE_A },
    ]);
  });
  add("referrers descriptors carry the referrers' annotations", async () => {
    const { a1, a2, a3 } = referrers();
    const { manifests } = await referrersOf(img().digest);
    for (const [id, m] of Object.entries({ a1, a2, a3 })) {
      const d = manifests.find((g) => g.digest === m.digest);
      expect(d, `referrer ${id} (${m.digest}) is not listed`);
      expect(d.annotations?.[ID] === id, `referrer ${id}: annotations ${JSON.stringify(d.annotations)}, expected {"${ID}":"${id}"}`);
    }
  });
  add("referrers artifactType filter sets OCI-Filters-Applied", async () => {
    const { a1, a3 } = referrers();
    const { res, manifests } = await referrersOf(img().digest, `?artifactType=${encodeURIComponent(TYPE_A)}`);
    const applied = (res.header("oci-filters-applied") ?? "").split(",").map((s) => s.trim());
    expect(applied.includes("artifactType"), `OCI-Filters-Applied: expected artifactType, got ${res.header("oci-filters-applied")} (${res.describe()})`);
    expectReferrers(manifests, [
      { m: a1, artifactType: TYPE_A },
      { m: a3, artifactType: TYPE_A },
    ]);
  });
  add("referrers of a digest without referrers is an empty index", async () => {
    const { manifests } = await referrersOf(sha256(randomBlob(32).data));
    expect(manifests.length === 0, `expected no referrers, got ${manifests.map((m) => m.digest).join(",")}`);
  });
  add("referrers of a subject that was never pushed lists its referrer", async () => {
    const { a4 } = referrers();
    const { manifests } = await referrersOf(missingSubject);
    expectReferrers(manifests, [{ m: a4, artifactType: TYPE_A }]);
  });
  add("referrers with a malformed digest returns 400", async () => {
    // "If the request is invalid, such as a <digest> with an invalid syntax, a 400 Bad Request MUST be returned."
    expectError(await get(`/v2/${repo}/referrers/sha256:totallywrong`), [400], []);
  });
}
