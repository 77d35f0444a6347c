/** Which tools a container image ships, and their flavours (busybox vs bind/openbsd/iputils). */

export interface ImageProfile {
  tools: string[];
  nslookup: "busybox" | "bind";
  nc: "busybox" | "openbsd";
  /** busybox ping, or iputils (Debian, RHEL, netshoot). */
  ping: "busybox" | "iputils";
  /** Interactive prompt for `kubectl exec -it … -- sh`. */
  prompt(hostname: string): string;
  os: string;
}

const BUSYBOX_PROMPT = (): string => "/ # ";
const DEBIAN_PROMPT = (h: string): string => `root@${h}:/# `;
const NET_BUSYBOX = ["wget", "nslookup", "nc", "ping"];

/** Ordered: the first entry whose pattern occurs in the image reference wins. */
const TABLE: { match: string; profile: ImageProfile }[] = [
  {
    match: "netshoot",
    profile: {
      tools: ["curl", "wget", "nslookup", "dig", "nc", "ping", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: (h) => `${h}:~# `,
      os: "Alpine Linux v3.22",
    },
  },
  {
    match: "dnsutils",
    profile: {
      tools: ["nslookup", "dig", "ping", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
    },
  },
  {
    match: "curlimages/curl",
    profile: {
      tools: ["curl", ...NET_BUSYBOX, "getent"],
      nslookup: "busybox",
      nc: "busybox",
      ping: "busybox",
      prompt: () => "~ $ ",
      os: "Alpine Linux v3.22",
    },
  },
  {
    match: "busybox",
    profile: {
      tools: NET_BUSYBOX,
      nslookup: "busybox",
      nc: "busybox",
      ping: "busybox",
      prompt: BUSYBOX_PROMPT,
      os: "BusyBox v1.36.1",
    },
  },
  {
    match: "alpine",
    profile: {
      tools: [...NET_BUSYBOX, "getent"],
      nslookup: "busybox",
      nc: "busybox",
      ping: "busybox",
      prompt: BUSYBOX_PROMPT,
      os: "Alpine Linux v3.22",
    },
  },
  {
    match: "nginx",
    profile: {
      tools: ["curl", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
    },
  },
  {
    match: "centos",
    profile: {
      tools: ["curl", "ping", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: (h) => `[root@${h} /]# `,
      os: "CentOS Stream 9",
    },
  },
  {
    match: "ubi",
    profile: {
      tools: ["curl", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: (h) => `[root@${h} /]# `,
      os: "Red Hat Enterprise Linux 9",
    },
  },
  {
    match: "debian",
    profile: {
      tools: ["getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
    },
  },
  {
    match: "ubuntu",
    profile: {
      tools: ["getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: DEBIAN_PROMPT,
      os: "Ubuntu 24.04.1 LTS",
    },
  },
  {
    match: "python",
    profile: {
      tools: ["curl", "wget", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
    },
  },
  {
    match: "node",
    profile: {
      tools: ["curl", "wget", "getent"],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: DEBIAN_PROMPT,
      os: "Debian GNU/Linux 12 (bookworm)",
    },
  },
  {
    match: "coredns",
    profile: {
      tools: [],
      nslookup: "bind",
      nc: "openbsd",
      ping: "iputils",
      prompt: BUSYBOX_PROMPT,
      os: "Distroless",
    },
  },
];

/** Images not in the table get the common troubleshooting set (busybox flavour) so labs keep working. */
const DEFAULT: ImageProfile = {
  tools: ["curl", ...NET_BUSYBOX, "getent"],
  nslookup: "busybox",
  nc: "busybox",
  ping: "busybox",
  prompt: BUSYBOX_PROMPT,
  os: "Alpine Linux v3.22",
};

export function imageProfile(image: string): ImageProfile {
  const img = image.toLowerCase();
  return TABLE.find((t) => img.includes(t.match))?.profile ?? DEFAULT;
}
