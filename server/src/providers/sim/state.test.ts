import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readState, writeState } from "./state.ts";
import { renameKubeconfig } from "./rename.ts";
import { parse } from "yaml";

describe("sim provider state file", () => {
  it("round-trips, starts empty without a file, and names a damaged file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "egresslab-simstate-"));
    try {
      expect(readState(dir)).toEqual({ assignments: {} });
      writeState(dir, { assignments: { a: "a", b: "older-1" } });
      expect(readState(dir)).toEqual({ assignments: { a: "a", b: "older-1" } });
      await writeFile(path.join(dir, "sim-provider.json"), "{");
      expect(() => readState(dir)).toThrow(/sim-provider.json: is not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("renameKubeconfig", () => {
  it("renames cluster, user and context together", () => {
    const text =
      "apiVersion: v1\nkind: Config\nclusters: [{name: egresslab-warm-1, cluster: {server: 'https://h:1'}}]\nusers: [{name: egresslab-warm-1, user: {token: t}}]\ncontexts: [{name: egresslab-warm-1, context: {cluster: egresslab-warm-1, user: egresslab-warm-1, namespace: default}}]\ncurrent-context: egresslab-warm-1\n";
    const kc = parse(renameKubeconfig(text, "egresslab-ann")) as Record<string, unknown>;
    expect(kc).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "egresslab-ann", cluster: { server: "https://h:1" } }],
      users: [{ name: "egresslab-ann", user: { token: "t" } }],
      contexts: [
        {
          name: "egresslab-ann",
          context: { cluster: "egresslab-ann", user: "egresslab-ann", namespace: "default" },
        },
      ],
      "current-context": "egresslab-ann",
    });
  });
});
