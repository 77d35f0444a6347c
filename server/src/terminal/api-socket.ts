/**
 * The one way out of a learner's sandbox: a unix socket per learner, bound (read-only, and only into that learner's
 * sandbox) at `/run/egresslab/api.sock`, whose connections go to the API of that learner's cluster and nowhere else.
 * A forwarder inside the sandbox (socat) listens on 127.0.0.1:6443 of the sandbox's own network namespace and pipes to
 * the socket; the learner's kubeconfig points there. TLS stays end to end: the forwarder and this module see bytes.
 */
import net, { type Socket } from "node:net";
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statfsSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import type { Logger } from "../shared/logger.ts";
import { noopLogger } from "../shared/logger.ts";

/** Where the socket is inside the sandbox, and the port the forwarder listens on. */
export const sandboxSocketDir = "/run/egresslab";
export const sandboxApiPort = 6443;

/** Hands one accepted connection to the API of the learner's cluster. */
export type ApiConnector = (learnerId: string, socket: Socket) => void;

/** Pipes `socket` to `host:port` (providers whose clusters listen on a TCP address of their own). */
export function pipeTo(host: string, port: number, socket: Socket): void {
  const upstream = net.connect({ host, port });
  const end = (): void => {
    socket.destroy();
    upstream.destroy();
  };
  upstream.on("error", end);
  socket.on("error", end);
  socket.pipe(upstream).pipe(socket);
}

export interface Rewritten {
  kubeconfig: string;
  /** The API address the kubeconfig named, for a plain TCP pipe. */
  upstream?: { host: string; port: number };
}

/**
 * The learner's kubeconfig as seen from inside the sandbox: each cluster's server becomes
 * `https://127.0.0.1:<port><same path>`; a server that was not an address the certificate holds for 127.0.0.1 keeps
 * its name for TLS (`tls-server-name`). Text that is not a kubeconfig is returned unchanged.
 */
export function sandboxKubeconfig(text: string, port = sandboxApiPort): Rewritten {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return { kubeconfig: text };
  }
  const clusters = (doc as { clusters?: unknown })?.clusters;
  if (!Array.isArray(clusters)) return { kubeconfig: text };
  let upstream: Rewritten["upstream"];
  for (const entry of clusters) {
    const c = (entry as { cluster?: Record<string, unknown> })?.cluster;
    if (!c || typeof c.server !== "string") continue;
    let url: URL;
    try {
      url = new URL(c.server);
    } catch {
      continue;
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const p = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    upstream ??= { host, port: p };
    if (!["127.0.0.1", "localhost"].includes(host) && c["tls-server-name"] === undefined)
      c["tls-server-name"] = host;
    c.server = `https://127.0.0.1:${port}${url.pathname === "/" ? "" : url.pathname}`;
  }
  return { kubeconfig: stringify(doc), ...(upstream ? { upstream } : {}) };
}

const tmpfsMagic = 0x01021994;

/**
 * Where the sockets' directory goes: a tmpfs of its own when there is one (/dev/shm), since the sandbox's mount table
 * shows the bound directory's path inside its filesystem: there `/egresslab-api-…/<learner>`, not a host path.
 */
export function socketBase(candidates = ["/dev/shm"]): string {
  for (const dir of candidates) {
    try {
      if (statfsSync(dir).type !== tmpfsMagic) continue;
      accessSync(dir, constants.W_OK | constants.X_OK);
      return dir;
    } catch {
      /* absent or not ours to write */
    }
  }
  return tmpdir();
}

/** The per-learner sockets of one server run (a fresh private directory; shells do not outlive the server). */
export class ApiSockets {
  private readonly servers = new Map<string, net.Server>();
  private dir: string | undefined;
  private readonly log: Logger;

  constructor(
    private readonly connect: ApiConnector,
    logger?: Logger,
  ) {
    this.log = logger ?? noopLogger;
  }

  /** The directory to bind at `/run/egresslab` for `learnerId` (listening once per learner). */
  async open(learnerId: string, owner?: { uid: number; gid: number }): Promise<string> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(learnerId)) throw new Error(`"${learnerId}" is not a learner id`);
    this.dir ??= mkdtempSync(path.join(socketBase(), "egresslab-api-"));
    chmodSync(this.dir, 0o711);
    const dir = path.join(this.dir, learnerId);
    if (this.servers.has(learnerId)) return dir;
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    chmodSync(dir, 0o711);
    const file = path.join(dir, "api.sock");
    try {
      unlinkSync(file);
    } catch {
      /* absent */
    }
    const server = net.createServer((socket) => {
      try {
        this.connect(learnerId, socket);
      } catch (err) {
        this.log.warn("could not reach a learner's cluster", {
          learner: learnerId,
          error: err instanceof Error ? err.message : String(err),
        });
        socket.destroy();
      }
    });
    server.on("error", (err) =>
      this.log.warn("learner API socket failed", { learner: learnerId, error: err.message }),
    );
    this.servers.set(learnerId, server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(file, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(file, 0o600);
    if (owner) chownSync(file, owner.uid, owner.gid);
    return dir;
  }

  /** Stops listening for one learner. */
  close(learnerId: string): void {
    this.servers.get(learnerId)?.close();
    this.servers.delete(learnerId);
  }

  /** Stops every socket and removes the directory. */
  closeAll(): void {
    for (const s of this.servers.values()) s.close();
    this.servers.clear();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
