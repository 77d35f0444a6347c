/**
 * The lab's internet on kind, hermetic: the domains of `clusters/internet.yaml` (the partner, the C2 domains, the
 * payment and storage APIs the shop calls) answer from two containers on kind's Docker network instead of the real
 * internet, with the catalogue's own addresses, so flows, network sets and probes read as they do in the simulator:
 * - a DNS server (CoreDNS) serving one zone file per catalogue zone; the cluster's CoreDNS forwards those zones to it
 *   (a marked block added to its Corefile);
 * - a web server (nginx) holding every catalogue address on its loopback and answering each domain's HTTP(S) reply;
 *   every kind node routes those addresses to it.
 * Pure: catalogue in, configuration text out. `internet-docker.ts` runs it.
 */
import forge from "node-forge";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { Catalogue, DomainEntry } from "../../net/catalogue.ts";
import { corefileBegin, corefileEnd, readLabBlock, withRotations } from "../../net/corefile-block.ts";
import { rotationCandidates } from "../../net/rotation.ts";

export { corefileBegin, corefileEnd } from "../../net/corefile-block.ts";

/** A DNS zone the hermetic internet serves, with the catalogue entries inside it. */
export interface InternetZone {
  name: string;
  entries: DomainEntry[];
}

const inZone = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);
const bare = (name: string): string => name.replace(/^\*\./, "");
const parent = (name: string): string => name.split(".").slice(1).join(".");

/**
 * The zones: every catalogue name (a wildcard's suffix; a name that must not exist, its parent), less those inside
 * another zone. Only these are taken from the real internet; every other name resolves as before.
 */
export function internetZones(catalogue: Catalogue): InternetZone[] {
  const roots = new Set<string>();
  for (const d of catalogue.domains) roots.add(d.nxdomain ? parent(d.name) : bare(d.name));
  const names = [...roots]
    .filter((z) => z.includes("."))
    .filter((z) => ![...roots].some((o) => o !== z && inZone(z, o)))
    .sort();
  return names.map((name) => ({
    name,
    entries: catalogue.domains.filter((d) => inZone(bare(d.name), name) || inZone(d.name, name)),
  }));
}

/** The zone file (RFC 1035) of one zone: its SOA and NS, then each entry's A records (a CNAME at the apex is flattened). */
export function zoneFile(zone: InternetZone, catalogue: Catalogue): string {
  const lines = [
    `$ORIGIN ${zone.name}.`,
    `@ 3600 IN SOA ns.egresslab.internet. hostmaster.egresslab.internet. 1 7200 3600 1209600 30`,
    `@ 3600 IN NS ns.egresslab.internet.`,
  ];
  const byName = new Map(catalogue.domains.map((d) => [d.name, d]));
  for (const d of zone.entries) {
    if (d.nxdomain) continue;
    const owner = d.name === zone.name ? "@" : d.name.slice(0, -(zone.name.length + 1));
    let ips = d.ips;
    let ttl = d.ttl;
    if (d.cname) {
      const target = byName.get(d.cname);
      if (owner !== "@") {
        lines.push(`${owner} ${d.ttl} IN CNAME ${d.cname}.`);
        continue;
      }
      ips = target?.ips ?? [];
      ttl = target?.ttl ?? d.ttl;
    }
    for (const ip of ips) lines.push(`${owner} ${ttl} IN A ${ip}`);
  }
  return lines.join("\n") + "\n";
}

/** The DNS container's Corefile: each zone from its file under `dir` (CoreDNS refuses names in no zone). */
export function internetCorefile(zones: InternetZone[], dir = "/etc/coredns/zones"): string {
  return zones.map((z) => `${z.name}:53 {\n    file ${dir}/${z.name}.zone\n    errors\n}`).join("\n") + "\n";
}

/**
 * The cluster's Corefile with a block that forwards the lab's zones to the DNS container at `dnsIp`, replacing the
 * block an earlier run added (so running it again changes nothing) and keeping the rotations made in it since.
 */
export function patchCorefile(corefile: string, zones: InternetZone[], dnsIp: string): string {
  const start = corefile.indexOf(corefileBegin);
  const end = corefile.indexOf(corefileEnd);
  let base = corefile;
  const earlier = readLabBlock(corefile);
  if (start >= 0 && end > start) {
    base = corefile.slice(0, start) + corefile.slice(end + corefileEnd.length).replace(/^\n/, "");
  }
  const block = [
    corefileBegin,
    `${zones.map((z) => `${z.name}:53`).join(" ")} {`,
    "    errors",
    "    cache 30",
    `    forward . ${dnsIp}`,
    "}",
    corefileEnd,
  ].join("\n");
  const patched = `${base.replace(/\n*$/, "\n")}${block}\n`;
  return earlier?.rotations.length ? withRotations(patched, earlier.rotations, earlier.ttl) : patched;
}

/**
 * Every address the web container answers on (each is routed to it from every node): the catalogue's, and every
 * address a rotation can give a rotating domain (`net/rotation.ts`).
 */
export function internetAddresses(catalogue: Catalogue): string[] {
  const all = new Set<string>();
  for (const d of catalogue.domains) for (const ip of d.ips) all.add(ip);
  for (const groups of rotationCandidates(catalogue).values()) for (const ip of groups.flat()) all.add(ip);
  return [...all].sort((a, b) => ipNumber(a) - ipNumber(b));
}

function ipNumber(ip: string): number {
  return ip.split(".").reduce((n, x) => n * 256 + Number(x), 0);
}

/** `ip -batch` lines for a node: a route to the web container for every catalogue address. */
export function nodeRoutes(addresses: string[], webIp: string): string {
  return addresses.map((a) => `route replace ${a}/32 via ${webIp}`).join("\n") + "\n";
}

/** A string as an nginx double-quoted token; `$` goes through the `$dollar` variable so no variable is expanded. */
function ngq(s: string): string {
  const escaped = s
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t")
    .replace(/\$/g, "${dollar}");
  return `"${escaped}"`;
}

/**
 * nginx's configuration: one server per catalogue domain on each of its addresses and ports, and on every address a
 * rotation can give it (old addresses keep answering after a rotation).
 */
export function nginxConf(catalogue: Catalogue): string {
  const candidates = rotationCandidates(catalogue);
  const out = ['geo $dollar { default "$"; }', "server_names_hash_bucket_size 128;"];
  out.push(
    "server {",
    "    listen 80 default_server;",
    "    listen 443 ssl default_server;",
    "    ssl_certificate /etc/nginx/egresslab/cert.pem;",
    "    ssl_certificate_key /etc/nginx/egresslab/key.pem;",
    '    location / { default_type text/plain; return 404 "not part of the lab\'s internet\\n"; }',
    "}",
  );
  for (const d of catalogue.domains) {
    if (d.nxdomain || d.ips.length === 0) continue;
    const listens: string[] = [];
    for (const ip of [...d.ips, ...(candidates.get(d.name)?.flat() ?? [])])
      for (const port of d.ports) listens.push(`    listen ${ip}:${port}${port === 443 ? " ssl" : ""};`);
    const headers = Object.entries(d.http.headers);
    const type = headers.find(([k]) => k.toLowerCase() === "content-type")?.[1] ?? "text/plain";
    const lines = [`        default_type ${ngq(type)};`];
    for (const [k, v] of headers)
      if (k.toLowerCase() !== "content-type" && /^[A-Za-z0-9-]+$/.test(k))
        lines.push(`        add_header ${k} ${ngq(v)} always;`);
    if (d.kind === "partner" && d.allowSources.length) {
      for (const cidr of d.allowSources) lines.push(`        allow ${cidr};`);
      lines.push("        deny all;");
    }
    lines.push(
      d.kind === "echo"
        ? '        return 200 "$remote_addr\\n";'
        : `        return ${d.http.status} ${ngq(d.http.body)};`,
    );
    out.push(
      "server {",
      ...listens,
      `    server_name ${d.name};`,
      "    ssl_certificate /etc/nginx/egresslab/cert.pem;",
      "    ssl_certificate_key /etc/nginx/egresslab/key.pem;",
      "    location / {",
      ...lines,
      "    }",
      "}",
    );
  }
  return out.join("\n") + "\n";
}

/** The web container's start script: the catalogue addresses on its loopback, then nginx in the foreground. */
export function webStartScript(addresses: string[]): string {
  return [
    "#!/bin/sh",
    "set -e",
    `for a in ${addresses.join(" ")}; do ip addr add "$a/32" dev lo 2>/dev/null || true; done`,
    "exec nginx -g 'daemon off;'",
  ].join("\n");
}

/** A self-signed certificate for every catalogue name (probes and guides use `curl -k`, as against any lab server). */
export function webCertificate(catalogue: Catalogue, now = Date.now()): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const priv = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = new Date(now - 3600_000);
  cert.validity.notAfter = new Date(now + 5 * 365 * 24 * 3600_000);
  const name = [{ name: "commonName", value: "egresslab lab internet" }];
  cert.setSubject(name);
  cert.setIssuer(name);
  const names = [...new Set(catalogue.domains.filter((d) => !d.nxdomain).map((d) => d.name))];
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: names.map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(priv, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}
