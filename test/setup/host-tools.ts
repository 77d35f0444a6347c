/**
 * What the tests need beyond npm, provisioned before any test runs (vitest `globalSetup`), the way Playwright's
 * `install-deps` does it: as root, the missing Debian packages are installed with apt-get; otherwise the run stops
 * with the exact command to type. No test skips what it exists to test because a host program is missing.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { environment } from "../../server/src/config/options.ts";

/** A program the tests run, and the Debian package that provides it. */
export interface HostTool {
  /** The Debian package that provides it. */
  apt: string;
  /** Which tests need it, in a few words. */
  why: string;
  /** True when it is usable on this machine. */
  present(): boolean;
  /** How to get it where the package is not in this machine's apt sources. */
  otherwise?: string;
}

/** True when `name` is an executable file on PATH. */
export function onPath(name: string, pathVar = environment().PATH ?? ""): boolean {
  return pathVar
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(path.join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

export const hostTools: readonly HostTool[] = [
  {
    apt: "chromium",
    why: "the end-to-end tests drive the page in headless Chromium (test/e2e/browser.ts)",
    present: () => existsSync("/usr/bin/chromium"),
  },
  {
    apt: "fonts-dejavu-core",
    why: "Chromium's screenshots and text metrics need one font",
    present: () => existsSync("/usr/share/fonts/truetype/dejavu"),
  },
  {
    apt: "bubblewrap",
    why: "the learner shell's sandbox (server/src/terminal) and the multi-user isolation tests",
    present: () => onPath("bwrap"),
  },
  {
    apt: "e2fsprogs",
    why: "each learner's home an ext4 filesystem of its own (server/src/terminal/home-fs.ts: mkfs.ext4, e2fsck)",
    present: () => ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"].some((p) => existsSync(p)),
  },
  {
    apt: "socat",
    why: "the forwarder inside each learner's sandbox to their cluster's API (server/src/terminal/api-socket.ts)",
    present: () => onPath("socat"),
  },
  {
    apt: "iproute2",
    why: "the guide walks give each learner shell a network namespace of its own and bring its loopback up (test/helpers/learner-shell.ts)",
    present: () => ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].some((p) => existsSync(p)),
  },
  {
    apt: "python3",
    why: "the sandbox tests run a bounded fork bomb and memory hog with it inside a learner's shell",
    present: () => existsSync("/usr/bin/python3"),
  },
  {
    apt: "python3-kubernetes",
    why: "the Python client tests (test/integration/python-client.test.ts, portforward.test.ts) drive the simulated API with Debian's Kubernetes client",
    present: () => {
      try {
        execFileSync("/usr/bin/python3", ["-c", "import kubernetes"], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    },
  },
  {
    apt: "kubectl",
    why: "the integration tests drive the simulated cluster with the real kubectl",
    present: () => onPath("kubectl"),
    otherwise:
      "Debian's own kubernetes-client is too old (1.20); add the Kubernetes project's apt repository (the Kubernetes docs, 'Install kubectl on Linux') or put a kubectl 1.32 binary on PATH",
  },
  {
    apt: "nano",
    why: "the learner's shell offers nano beside vi",
    present: () => onPath("nano"),
  },
  {
    apt: "jq",
    why: "the guide uses jq where it first shows JSON",
    present: () => onPath("jq"),
  },
  {
    apt: "postgresql",
    why: "the Postgres store and the tests of several replicas start a throwaway Postgres (test/helpers/services.ts)",
    present: () => existsSync("/usr/lib/postgresql") && onPath("runuser"),
  },
  {
    apt: "redis-server",
    why: "the tests of several replicas carry socket.io's events through a throwaway Redis (test/helpers/services.ts)",
    present: () => onPath("redis-server"),
  },
];

/** The packages of the tools that are missing. */
export function missingPackages(tools: readonly HostTool[] = hostTools): string[] {
  return tools.filter((t) => !t.present()).map((t) => t.apt);
}

/** The command a person runs to install `packages`. */
export function installCommand(packages: readonly string[], root: boolean): string {
  const sudo = root ? "" : "sudo ";
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages.join(" ")}`;
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function explain(packages: readonly string[]): string {
  return hostTools
    .filter((t) => packages.includes(t.apt))
    .map((t) => `  ${t.apt}: ${t.why}${t.otherwise ? `\n    (${t.otherwise})` : ""}`)
    .join("\n");
}

/** True when apt-get has a version of `pkg` to install (after `apt-get update`). */
function installable(pkg: string, env: NodeJS.ProcessEnv): boolean {
  try {
    const out = execFileSync("apt-cache", ["policy", pkg], { env, encoding: "utf8" });
    return /Candidate: (?!\(none\))/.test(out);
  } catch {
    return false;
  }
}

export default function setup(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const root = isRoot();
  const command = installCommand(missing, root);
  if (!root || !onPath("apt-get")) {
    throw new Error(
      `the tests need programs that are not installed:\n${explain(missing)}\ninstall them with:\n  ${command}`,
    );
  }
  process.stderr.write(`host-tools: installing ${missing.join(" ")} (${command})\n`);
  const env = { ...environment(), DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["update", "-q"], { stdio: ["ignore", "inherit", "inherit"], env });
    const available = missing.filter((p) => installable(p, env));
    if (available.length)
      execFileSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...available], {
        stdio: ["ignore", "inherit", "inherit"],
        env,
      });
  } catch (err) {
    throw new Error(
      `installing ${missing.join(" ")} failed (${err instanceof Error ? err.message : String(err)});` +
        ` the tests need:\n${explain(missing)}`,
      { cause: err },
    );
  }
  const still = missingPackages();
  if (still.length)
    throw new Error(
      `after apt-get install, still missing:\n${explain(still)}\ninstall them with:\n  ${command}`,
    );
}
