/**
 * The image table: what each container image does in the simulator — the tools it ships and their flavours (busybox
 * vs bind/openbsd/iputils), its shell prompt and OS, the ports it listens on without declaring them and what answers
 * there, and the lines it logs when it starts. The one place that knows an image; the shell, the network, the logs
 * and port-forward ask it.
 */

/** What answers on a port of a container. */
export type PortService =
  /** nginx's welcome page (404 for other paths), with an access log line per request. */
  | "nginx"
  /** A small HTTP page naming the pod (any declared port of an image that is not a known server). */
  | "pod-name"
  /** Calico Whisker's UI (nginx, proxying `/whisker-backend/`). */
  | "whisker-ui"
  /** Whisker's backend API (`/flows`, `/flows-filter-hints`). */
  | "whisker-backend"
  /** Accepts connections and never speaks HTTP (DNS, metrics scraped by nothing here, databases). */
  | "silent";

export type PortProtocol = "TCP" | "UDP";

/** A port an image listens on whether or not the pod spec declares it. */
export interface ImagePort {
  port: number;
  protocol: PortProtocol;
  serves: PortService;
}

/**
 * The programs every image with a userland has (the shell builtins and the small utilities: `sh`, `cat`, `grep`,
 * `base64`…), from busybox's applets or GNU coreutils; `none` for distroless and `FROM scratch` images, which have no
 * program at all besides their entrypoint — not even a shell.
 */
export type Userland = "busybox" | "gnu" | "none";

export interface ImageProfile {
  /** The programs beyond the userland's basics that the simulator runs (`curl`, `tar`, `bash`, `jq`, …). */
  tools: string[];
  userland: Userland;
  /**
   * Programs the image ships that the simulator cannot run inside a pod (`kubectl`, `helm` in the toolbox image):
   * they are found, and fail saying so.
   */
  unsupported?: readonly string[];
  /** The image's WORKDIR, where `kubectl exec` starts (default `/`). */
  workdir?: string;
  nslookup: "busybox" | "bind";
  nc: "busybox" | "openbsd";
  /** busybox ping, or iputils (Debian, RHEL, netshoot). */
  ping: "busybox" | "iputils";
  /** Interactive prompt for `kubectl exec -it … -- sh`. */
  prompt(hostname: string): string;
  os: string;
  /** The ports the image's entrypoint listens on. */
  ports: readonly ImagePort[];
  /** What an HTTP request to any other (declared) port of a container of this image gets. */
  http: "nginx" | "pod-name";
  /** The lines the image's entrypoint logs when the container starts. */
  startup(podIp: string): string[];
}

const BUSYBOX_PROMPT = (): string => "/ # ";
const DEBIAN_PROMPT = (h: string): string => `root@${h}:/# `;
const RHEL_PROMPT = (h: string): string => `[root@${h} /]# `;
/** busybox's network applets, and its `tar`. */
const NET_BUSYBOX = ["wget", "nslookup", "nc", "ping"];
const BUSYBOX_FLAVOUR = { userland: "busybox", nslookup: "busybox", nc: "busybox", ping: "busybox" } as const;
const GNU_FLAVOUR = { userland: "gnu", nslookup: "bind", nc: "openbsd", ping: "iputils" } as const;
/** An image whose entrypoint serves nothing and logs nothing (a shell, `sleep`, the lab's own command). */
const QUIET = { ports: [], http: "pod-name", startup: () => [] } as const;

/** Images not in the table get the common troubleshooting set (busybox flavour) so labs keep working. */
const DEFAULT: ImageProfile = {
  tools: ["curl", ...NET_BUSYBOX, "getent", "tar"],
  ...BUSYBOX_FLAVOUR,
  prompt: BUSYBOX_PROMPT,
  os: "Alpine Linux v3.22",
  ...QUIET,
};

/** The ports Calico Whisker's two images serve (calico/whisker and calico/whisker-backend). */
export const WHISKER_UI_PORT = 8081;
export const WHISKER_BACKEND_PORT = 3002;

/** The official language images (python, node): Debian with curl and wget. */
const LANGUAGE_RUNTIME: ImageProfile = {
  tools: ["curl", "wget", "getent", "tar", "bash"],
  ...GNU_FLAVOUR,
  prompt: DEBIAN_PROMPT,
  os: "Debian GNU/Linux 12 (bookworm)",
  ...QUIET,
};

/** Ordered: the first entry whose pattern matches the (lower-cased) image reference wins. */
const TABLE: { match: string | RegExp; profile: ImageProfile }[] = [
  {
    match: /(^|\/)whisker(:|@|$)/,
    profile: { ...DEFAULT, ports: [{ port: WHISKER_UI_PORT, protocol: "TCP", serves: "whisker-ui" }] },
  },
  {
    match: /(^|\/)whisker-backend(:|@|$)/,
    profile: {
      // FROM scratch: the backend's binary and nothing else.
      ...DEFAULT,
      tools: [],
      userland: "none",
      ports: [{ port: WHISKER_BACKEND_PORT, protocol: "TCP", serves: "whisker-backend" }],
    },
  },
  {
    // distroless/static (the control plane's images) and FROM scratch (Goldmane): no program besides the binary.
    match: /(^|\/)(kube-apiserver|kube-controller-manager|kube-scheduler|goldmane)(:|@|$)/,
    profile: { ...DEFAULT, tools: [], userland: "none", os: "Distroless" },
  },
  {
    match: "egress-gateway",
    profile: {
      ...DEFAULT,
      startup: (ip) => [
        `Egress gateway starting: source address ${ip}`,
        "Waiting for calico-node to report ready",
        "Egress gateway ready",
      ],
    },
  },
  {
    match: "netshoot",
    profile: {
      tools: ["curl", "wget", "nslookup", "dig", "nc", "ping", "getent", "tar", "bash", "jq"],
      ...GNU_FLAVOUR,
      // Alpine underneath, with bind-tools, openbsd netcat and iputils added.
      userland: "busybox",
      prompt: (h) => `${h}:~# `,
      os: "Alpine Linux v3.22",
      ...QUIET,
    },
  },
  {
    match: "dnsutils",
    profile: {
      tools: ["nslookup", "dig", "ping", "getent", "tar", "bash"],
      ...GNU_FLAVOUR,
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
      ...QUIET,
    },
  },
  {
    match: "curlimages/curl",
    profile: {
      tools: ["curl", ...NET_BUSYBOX, "getent", "tar"],
      ...BUSYBOX_FLAVOUR,
      prompt: () => "~ $ ",
      os: "Alpine Linux v3.22",
      ...QUIET,
    },
  },
  {
    match: "busybox",
    profile: {
      tools: [...NET_BUSYBOX, "tar"],
      ...BUSYBOX_FLAVOUR,
      prompt: BUSYBOX_PROMPT,
      os: "BusyBox v1.36.1",
      ...QUIET,
    },
  },
  {
    // The learner's toolbox on real clusters (clusters/toolbox.yaml): Alpine with curl, bash, git, jq, yq, gettext
    // and the Kubernetes clients (alpine-docker/k8s' Dockerfile). The clients talk to a real API server; inside a
    // simulated pod they are found and say they cannot run. jq is the pod shell's (`shell/commands/jq.ts`).
    match: /(^|\/)alpine\/k8s(:|@|$)/,
    profile: {
      tools: ["curl", ...NET_BUSYBOX, "getent", "tar", "bash", "jq"],
      unsupported: [
        "kubectl",
        "helm",
        "kustomize",
        "kubeseal",
        "eksctl",
        "aws",
        "aws-iam-authenticator",
        "yq",
        "git",
        "envsubst",
      ],
      workdir: "/apps",
      ...BUSYBOX_FLAVOUR,
      prompt: () => "/apps # ",
      os: "Alpine Linux v3.22",
      ...QUIET,
    },
  },
  {
    match: "alpine",
    profile: {
      tools: [...NET_BUSYBOX, "getent", "tar"],
      ...BUSYBOX_FLAVOUR,
      prompt: BUSYBOX_PROMPT,
      os: "Alpine Linux v3.22",
      ...QUIET,
    },
  },
  {
    match: "nginx",
    profile: {
      tools: ["curl", "getent", "tar", "bash"],
      ...GNU_FLAVOUR,
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
      ports: [{ port: 80, protocol: "TCP", serves: "nginx" }],
      http: "nginx",
      startup: () => [
        "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
        "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
        "/docker-entrypoint.sh: Configuration complete; ready for start up",
      ],
    },
  },
  {
    match: "centos",
    profile: {
      tools: ["curl", "ping", "getent", "tar", "bash"],
      ...GNU_FLAVOUR,
      prompt: RHEL_PROMPT,
      os: "CentOS Stream 9",
      ...QUIET,
    },
  },
  {
    match: "ubi",
    profile: {
      tools: ["curl", "getent", "tar", "bash"],
      ...GNU_FLAVOUR,
      prompt: RHEL_PROMPT,
      os: "Red Hat Enterprise Linux 9",
      ...QUIET,
    },
  },
  {
    match: "debian",
    profile: {
      tools: ["getent", "tar", "bash"],
      ...GNU_FLAVOUR,
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
      ...QUIET,
    },
  },
  {
    match: "ubuntu",
    profile: {
      tools: ["getent", "tar", "bash"],
      ...GNU_FLAVOUR,
      prompt: DEBIAN_PROMPT,
      os: "Ubuntu 24.04.1 LTS",
      ...QUIET,
    },
  },
  {
    match: "python",
    profile: LANGUAGE_RUNTIME,
  },
  {
    match: "node",
    profile: LANGUAGE_RUNTIME,
  },
  {
    match: "coredns",
    profile: {
      // distroless/static: the coredns binary and nothing else, not even a shell.
      tools: [],
      ...GNU_FLAVOUR,
      userland: "none",
      prompt: BUSYBOX_PROMPT,
      os: "Distroless",
      ports: [
        { port: 53, protocol: "UDP", serves: "silent" },
        { port: 53, protocol: "TCP", serves: "silent" },
        { port: 9153, protocol: "TCP", serves: "silent" },
      ],
      http: "pod-name",
      startup: () => [
        ".:53",
        "[INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908",
        "CoreDNS-1.11.3",
        "linux/amd64, go1.21.11, a6338e9",
      ],
    },
  },
];

/** What the image `image` (a reference as a pod spec gives it) does in the simulator. */
export function imageProfile(image: string): ImageProfile {
  const img = image.toLowerCase();
  return (
    TABLE.find((t) => (typeof t.match === "string" ? img.includes(t.match) : t.match.test(img)))?.profile ??
    DEFAULT
  );
}
