/**
 * Runs the hermetic internet (`internet.ts`) with docker and kubectl: two containers on kind's Docker network, shared
 * by every cluster on this machine (made once, made again when the catalogue changes), routes on each node, and the
 * forward block in each cluster's CoreDNS.
 */
import { createHash } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { CommandError, type Cmder } from "../cmd.ts";
import { InFlight } from "../in-flight.ts";
import { EgresslabError } from "../../shared/errors.ts";
import type { Catalogue } from "../../net/catalogue.ts";
import {
  internetAddresses,
  internetCorefile,
  internetZones,
  nginxConf,
  nodeRoutes,
  patchCorefile,
  webCertificate,
  webStartScript,
  zoneFile,
} from "./internet.ts";

export interface InternetImages {
  /** The web server's image (nginx; its busybox `ip` adds the addresses). */
  web: string;
  /** The DNS server's image (CoreDNS). */
  dns: string;
}

/** kind's Docker network (kind's own default). */
export const kindNetwork = "kind";
export const internetContainers = { web: "egresslab-internet-web", dns: "egresslab-internet-dns" } as const;
const configLabel = "egresslab.internet/config";

export interface InternetOptions {
  cmder: Cmder;
  catalogue: Catalogue;
  images: InternetImages;
  /** Where the containers' files are written before `docker cp`. */
  workDir: string;
  onProgress: (step: string) => void;
  signal?: AbortSignal;
}

export interface InternetAddresses {
  webIp: string;
  dnsIp: string;
}

const starting = new InFlight<InternetAddresses>();

/** Starts the two containers unless they already run with this catalogue; resolves with their addresses. */
export function startInternet(o: InternetOptions): Promise<InternetAddresses> {
  return starting.run("internet", () => startOnce(o));
}

async function startOnce(o: InternetOptions): Promise<InternetAddresses> {
  const zones = internetZones(o.catalogue);
  const addresses = internetAddresses(o.catalogue);
  const dnsFiles: Record<string, string> = { Corefile: internetCorefile(zones) };
  for (const z of zones) dnsFiles[`zones/${z.name}.zone`] = zoneFile(z, o.catalogue);
  const webFiles: Record<string, string> = {
    "conf.d/default.conf": nginxConf(o.catalogue),
    "egresslab/start.sh": webStartScript(addresses),
  };
  const docker = (args: string[], what: string, input?: string) =>
    o.cmder
      .run("docker", args, { signal: o.signal, timeoutMs: 10 * 60_000, ...(input ? { input } : {}) })
      .catch((err: unknown) => {
        throw internetError(err, what);
      });

  const start = async (
    name: string,
    image: string,
    files: Record<string, string>,
    extra: { createArgs: string[]; command: string[]; copyTo: string; secret?: () => Record<string, string> },
  ): Promise<string> => {
    const hash = digest(image, extra.createArgs, extra.command, files);
    const seen = await inspect(o.cmder, name, o.signal);
    if (seen?.running && seen.ip && seen.config === hash) return seen.ip;
    if (seen) await docker(["rm", "-f", name], `removing the old ${name} container`);
    o.onProgress(`starting the lab's internet: ${name} (${image}) on Docker network ${kindNetwork}`);
    const dir = path.join(o.workDir, name);
    await rm(dir, { recursive: true, force: true });
    for (const [file, text] of Object.entries({ ...files, ...extra.secret?.() })) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text, { mode: file.endsWith("key.pem") ? 0o600 : 0o644 });
    }
    await docker(
      [
        "create",
        "--name",
        name,
        "--network",
        kindNetwork,
        "--restart",
        "unless-stopped",
        "--label",
        `${configLabel}=${hash}`,
        ...extra.createArgs,
        image,
        ...extra.command,
      ],
      `creating the ${name} container`,
    );
    await docker(["cp", `${dir}/.`, `${name}:${extra.copyTo}`], `copying configuration into ${name}`);
    await docker(["start", name], `starting ${name}`);
    const now = await inspect(o.cmder, name, o.signal);
    if (!now?.running || !now.ip)
      throw new EgresslabError(
        "unavailable",
        `the lab's internet: ${name} is not running on Docker network ${kindNetwork} (see \`docker logs ${name}\`)`,
      );
    return now.ip;
  };

  const dnsIp = await start(internetContainers.dns, o.images.dns, dnsFiles, {
    createArgs: [],
    command: ["-conf", "/etc/coredns/Corefile"],
    copyTo: "/etc/coredns",
  });
  const webIp = await start(internetContainers.web, o.images.web, webFiles, {
    // NET_ADMIN only to put the catalogue's addresses on its own loopback.
    createArgs: ["--cap-add", "NET_ADMIN"],
    command: ["/bin/sh", "/etc/nginx/egresslab/start.sh"],
    copyTo: "/etc/nginx",
    secret: () => certificateFiles(o.catalogue),
  });
  return { webIp, dnsIp };
}

function certificateFiles(catalogue: Catalogue): Record<string, string> {
  const { cert, key } = webCertificate(catalogue);
  return { "egresslab/cert.pem": cert, "egresslab/key.pem": key };
}

function digest(...parts: unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

async function inspect(
  cmder: Cmder,
  name: string,
  signal?: AbortSignal,
): Promise<{ running: boolean; ip: string; config: string } | undefined> {
  const format =
    `{{.State.Running}} {{range $k, $v := .NetworkSettings.Networks}}{{if eq $k "${kindNetwork}"}}{{$v.IPAddress}}{{end}}{{end}}` +
    ` {{index .Config.Labels "${configLabel}"}}`;
  try {
    const r = await cmder.run("docker", ["inspect", "--type", "container", "--format", format, name], {
      signal,
      timeoutMs: 60_000,
    });
    const [running, ip, config] = r.stdout.trim().split(/\s+/);
    return { running: running === "true", ip: ip ?? "", config: config ?? "" };
  } catch (err) {
    if (
      err instanceof CommandError &&
      err.failure === "exit" &&
      /no such (object|container)/i.test(err.stderr)
    )
      return undefined;
    throw internetError(err, `inspecting ${name}`);
  }
}

/** Removes the lab's internet containers (when the last egresslab cluster on the machine is gone). */
export async function stopInternet(cmder: Cmder): Promise<void> {
  for (const name of [internetContainers.web, internetContainers.dns]) {
    await cmder.run("docker", ["rm", "-f", name], { timeoutMs: 60_000 }).catch((err: unknown) => {
      if (err instanceof CommandError && /no such container/i.test(err.stderr)) return;
      throw internetError(err, `removing ${name}`);
    });
  }
}

/** Routes every catalogue address to the web container on each kind node (`ip -batch`, no shell). */
export async function routeNodes(
  o: Pick<InternetOptions, "cmder" | "catalogue" | "signal"> & { workDir?: string },
  nodes: string[],
  webIp: string,
): Promise<void> {
  const routes = nodeRoutes(internetAddresses(o.catalogue), webIp);
  // Kept beside the containers' files, for doing the same by hand (`docker exec -i NODE ip -batch - < routes`).
  if (o.workDir) {
    await mkdir(o.workDir, { recursive: true });
    await writeFile(path.join(o.workDir, "routes"), routes);
  }
  for (const node of nodes) {
    await o.cmder
      .run("docker", ["exec", "-i", node, "ip", "-batch", "-"], {
        input: routes,
        signal: o.signal,
        timeoutMs: 60_000,
      })
      .catch((err: unknown) => {
        throw internetError(err, `routing the lab's internet on node ${node}`);
      });
  }
}

/**
 * Adds (or refreshes) the block in the cluster's CoreDNS that forwards the lab's zones to the DNS container, and
 * restarts CoreDNS when it changed. Resolves with whether it changed.
 */
export async function forwardClusterDns(
  o: Pick<InternetOptions, "cmder" | "catalogue" | "signal" | "onProgress">,
  kubeconfig: string,
  dnsIp: string,
): Promise<boolean> {
  const kubectl = (args: string[], what: string) =>
    o.cmder
      .run("kubectl", ["--kubeconfig", kubeconfig, "-n", "kube-system", ...args], {
        signal: o.signal,
        timeoutMs: 5 * 60_000,
      })
      .catch((err: unknown) => {
        throw internetError(err, what);
      });
  const cm = await kubectl(["get", "configmap", "coredns", "-o", "json"], "reading CoreDNS's configuration");
  const corefile = (JSON.parse(cm.stdout) as { data?: { Corefile?: string } }).data?.Corefile;
  if (corefile === undefined)
    throw new EgresslabError("unavailable", "the lab's internet: kube-system/coredns has no Corefile");
  const patched = patchCorefile(corefile, internetZones(o.catalogue), dnsIp);
  if (patched === corefile) return false;
  o.onProgress(`the lab's internet: CoreDNS forwards the lab's domains to ${dnsIp}`);
  await kubectl(
    [
      "patch",
      "configmap",
      "coredns",
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data: { Corefile: patched } }),
    ],
    "patching CoreDNS's configuration",
  );
  await kubectl(["rollout", "restart", "deployment", "coredns"], "restarting CoreDNS");
  await kubectl(
    ["rollout", "status", "deployment", "coredns", "--timeout=180s"],
    "waiting for CoreDNS to restart",
  );
  return true;
}

function internetError(err: unknown, what: string): EgresslabError {
  if (err instanceof CommandError) {
    const line = err.stderr.trim().split("\n").filter(Boolean).at(-1) ?? err.message;
    return new EgresslabError("unavailable", `the lab's internet: ${what} failed: ${line}`, { cause: err });
  }
  return err instanceof EgresslabError ? err : new EgresslabError("internal", String(err), { cause: err });
}
