/** What `/version` reports: Kubernetes 1.32, so kubectl's version dispatcher picks a 1.32 client. */
export const KUBERNETES_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.2",
  gitCommit: "67a30c0adcf52bd3f56ff0893ce19966be12991f",
  gitTreeState: "clean",
  buildDate: "2025-02-12T21:19:47Z",
  goVersion: "go1.23.6",
  compiler: "gc",
  platform: "linux/amd64",
} as const;
