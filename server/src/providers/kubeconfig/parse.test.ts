import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { looksLikeKubeconfigFile, parsePoolKubeconfig, poolEntryName } from "./parse.ts";

const good = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt}
- name: other
  cluster: {server: "https://10.0.0.2:6443"}
users:
- name: admin
  user: {tokenFile: token.txt}
contexts:
- name: main
  context: {cluster: prod, user: admin, namespace: default}
- name: side
  context: {cluster: other, user: admin}
current-context: main
`;
const refs: Record<string, string> = {
  "ca.crt": "-----BEGIN CERTIFICATE-----\nX\n",
  "token.txt": "s3cret\n",
};
const readRef = (r: string): string | undefined => refs[r];

describe("parsePoolKubeconfig", () => {
  it("keeps only the current context and inlines referenced files", () => {
    const r = parsePoolKubeconfig(good, "/pool/a.yaml", "a", "oss", readRef);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.value).toMatchObject({ name: "a", server: "https://10.0.0.1:6443", edition: "oss" });
    const kc = parse(r.value.kubeconfig) as Record<string, unknown>;
    expect(kc).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "prod",
          cluster: {
            server: "https://10.0.0.1:6443",
            "certificate-authority-data": Buffer.from(refs["ca.crt"]!).toString("base64"),
          },
        },
      ],
      users: [{ name: "admin", user: { token: "s3cret" } }],
      contexts: [{ name: "main", context: { cluster: "prod", user: "admin", namespace: "default" } }],
      "current-context": "main",
      preferences: {},
    });
  });

  it("reads the Calico edition from the kubeconfig's egresslab extension", () => {
    const text = good + "extensions:\n- name: egresslab\n  extension: {calicoEdition: enterprise}\n";
    const r = parsePoolKubeconfig(text, "f", "a", "oss", readRef);
    expect(r.ok && r.value.edition).toBe("enterprise");
  });

  const bad: [string, string, RegExp[]][] = [
    ["not YAML", "clusters: [", [/not valid YAML/]],
    ["a list", "- a\n- b\n", [/is not a kubeconfig/]],
    ["no contexts", "clusters: []\nusers: []\n", [/has no contexts/]],
    [
      "ambiguous contexts",
      good.replace("current-context: main\n", ""),
      [/has 2 contexts and no current-context/],
    ],
    [
      "missing context",
      good.replace("current-context: main", "current-context: nope"),
      [/current-context "nope" is not among its contexts/],
    ],
    [
      "dangling names",
      good.replace("{cluster: prod, user: admin, namespace: default}", "{cluster: gone, user: ghost}"),
      [/names cluster "gone", which is not defined/, /names user "ghost", which is not defined/],
    ],
    [
      "every problem at once",
      good
        .replace('server: "https://10.0.0.1:6443", ', "")
        .replace("tokenFile: token.txt", "tokenFile: missing.txt") +
        "extensions:\n- name: egresslab\n  extension: {calicoEdition: cloud}\n",
      [
        /has no valid server URL/,
        /refers to tokenFile "missing.txt", which cannot be read/,
        /has no credentials/,
        /calicoEdition must be oss or enterprise/,
      ],
    ],
  ];
  it.each(bad)("rejects %s, naming the file", (_, text, messages) => {
    const r = parsePoolKubeconfig(text, "/pool/broken.yaml", "broken", "oss", readRef);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.message)).toEqual(messages.map((m) => expect.stringMatching(m)));
    expect(r.problems.every((p) => p.where === "/pool/broken.yaml")).toBe(true);
  });
});

describe("pool file names", () => {
  it.each([
    ["alice.yaml", true, "alice"],
    ["bob.yml", true, "bob"],
    ["c.kubeconfig", true, "c"],
    ["config", true, "config"],
    ["README.md", false, "README.md"],
    [".hidden.yaml", false, ".hidden"],
  ])("%s", (file, isKubeconfig, name) => {
    expect(looksLikeKubeconfigFile(file)).toBe(isKubeconfig);
    expect(poolEntryName(file)).toBe(name);
  });
});
