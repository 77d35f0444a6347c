import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import forge from "node-forge";
import { parseCatalogue } from "../../net/catalogue.ts";
import { defaultCatalogue } from "../../net/catalogue-file.ts";
import { readLabBlock, rotateInCorefile } from "../../net/corefile-block.ts";
import { ROTATION_GROUPS, rotationCandidates } from "../../net/rotation.ts";
import { inCidr } from "../../shared/ipv4.ts";
import {
  corefileBegin,
  internetAddresses,
  internetCorefile,
  internetZones,
  nginxConf,
  nodeRoutes,
  patchCorefile,
  webCertificate,
  zoneFile,
} from "./internet.ts";

const catalogue = parseCatalogue(
  `
resolvers: [8.8.8.8]
upstream: 172.18.0.1
domains:
  s3.amazonaws.com: {ips: [52.216.100.10], ttl: 5}
  "*.s3.amazonaws.com": {ips: [52.216.8.101], ttl: 5}
  shop-assets.s3.amazonaws.com: {ips: [52.216.8.101, 52.217.44.6], ttl: 5, http: {status: 200, body: "<ListBucketResult/>\\n", headers: {content-type: application/xml}}}
  docker.io: {cname: registry-1.docker.io}
  registry-1.docker.io: {ips: [54.198.86.24], ttl: 60}
  www.docker.io: {cname: registry-1.docker.io}
  legacy-api.shop-internal.net: {nxdomain: true}
  ifconfig.me: {kind: echo, ips: [34.160.111.145], ttl: 300}
  api.fabrikam-logistics.net: {kind: partner, ips: [203.0.113.50], ttl: 300, allowSources: [10.10.10.0/24], http: {status: 200, body: '{"cost":"$5","path":"a\\b"}', headers: {content-type: application/json, X-Lab: "yes"}}}
`,
  "test.yaml",
);

describe("internetZones", () => {
  it("serves each catalogue name as a zone, nested names inside their parent, a missing name in its parent", () => {
    const zones = internetZones(catalogue);
    expect(zones.map((z) => z.name)).toEqual([
      "api.fabrikam-logistics.net",
      "docker.io",
      "ifconfig.me",
      "s3.amazonaws.com",
      "shop-internal.net",
    ]);
    expect(zones.find((z) => z.name === "s3.amazonaws.com")!.entries.map((e) => e.name)).toEqual([
      "s3.amazonaws.com",
      "*.s3.amazonaws.com",
      "shop-assets.s3.amazonaws.com",
    ]);
  });

  it("covers every name of the repository's catalogue, and never a bare top-level domain", () => {
    const cat = defaultCatalogue();
    const zones = internetZones(cat).map((z) => z.name);
    for (const d of cat.domains) {
      const name = d.name.replace(/^\*\./, "x.");
      expect(zones.some((z) => name === z || name.endsWith(`.${z}`))).toBe(true);
    }
    expect(zones.every((z) => z.includes("."))).toBe(true);
  });
});

describe("zoneFile", () => {
  const zone = (name: string) =>
    zoneFile(
      internetZones(catalogue).find((z) => z.name === name)!,
      catalogue,
    );

  it("writes SOA, NS and the catalogue's A records, wildcards included", () => {
    expect(zone("s3.amazonaws.com")).toBe(
      [
        "$ORIGIN s3.amazonaws.com.",
        "@ 3600 IN SOA ns.egresslab.internet. hostmaster.egresslab.internet. 1 7200 3600 1209600 30",
        "@ 3600 IN NS ns.egresslab.internet.",
        "@ 5 IN A 52.216.100.10",
        "* 5 IN A 52.216.8.101",
        "shop-assets 5 IN A 52.216.8.101",
        "shop-assets 5 IN A 52.217.44.6",
        "",
      ].join("\n"),
    );
  });

  it("flattens a CNAME at the apex, keeps one below it, and leaves a missing name out (NXDOMAIN)", () => {
    expect(zone("docker.io")).toContain("@ 60 IN A 54.198.86.24\n");
    expect(zone("docker.io")).toMatch(/^www \d+ IN CNAME registry-1\.docker\.io\.$/m);
    expect(zone("shop-internal.net")).not.toContain("legacy-api");
  });

  it("writes zone files BIND's named-checkzone loads, for every zone of the repository's catalogue", () => {
    const cat = defaultCatalogue();
    const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-zones-"));
    try {
      for (const z of internetZones(cat)) {
        const file = path.join(dir, `${z.name}.zone`);
        writeFileSync(file, zoneFile(z, cat));
        const out = execFileSync("/usr/bin/named-checkzone", ["-i", "local", z.name, file], {
          encoding: "utf8",
        });
        expect(out).toMatch(/\nOK\n$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the DNS container one server block per zone", () => {
    expect(internetCorefile(internetZones(catalogue).slice(0, 1))).toBe(
      "api.fabrikam-logistics.net:53 {\n    file /etc/coredns/zones/api.fabrikam-logistics.net.zone\n    errors\n}\n",
    );
  });
});

describe("patchCorefile", () => {
  const kindCorefile =
    ".:53 {\n    errors\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    reload\n}\n";

  it("adds one forward block for the lab's zones, and replaces it on the next run instead of adding another", () => {
    const zones = internetZones(catalogue);
    const once = patchCorefile(kindCorefile, zones, "172.18.0.5");
    expect(once.startsWith(kindCorefile)).toBe(true);
    expect(once.slice(kindCorefile.length)).toBe(
      [
        corefileBegin,
        "api.fabrikam-logistics.net:53 docker.io:53 ifconfig.me:53 s3.amazonaws.com:53 shop-internal.net:53 {",
        "    errors",
        "    cache 30",
        "    forward . 172.18.0.5",
        "}",
        "# egresslab: the lab's internet (end)",
        "",
      ].join("\n"),
    );
    expect(patchCorefile(once, zones, "172.18.0.5")).toBe(once);
    const moved = patchCorefile(once, zones, "172.18.0.9");
    expect(moved.match(/forward \. 172/g)).toHaveLength(1);
    expect(moved).toContain("forward . 172.18.0.9");
    expect(moved.startsWith(kindCorefile)).toBe(true);
  });

  it("keeps the rotations made in the block when it is written again", () => {
    const zones = internetZones(catalogue);
    const once = patchCorefile(kindCorefile, zones, "172.18.0.5");
    const rotated = rotateInCorefile(
      once,
      { domain: "shop-assets.s3.amazonaws.com", generation: 2, ips: ["52.216.3.4", "52.217.5.6"] },
      () => 5,
    );
    expect(patchCorefile(rotated, zones, "172.18.0.5")).toBe(rotated);
    const moved = patchCorefile(rotated, zones, "172.18.0.9");
    expect(readLabBlock(moved)).toEqual({
      zones: zones.map((z) => z.name),
      forward: "172.18.0.9",
      rotations: [
        { domain: "shop-assets.s3.amazonaws.com", generation: 2, ips: ["52.216.3.4", "52.217.5.6"] },
      ],
      ttl: 5,
    });
  });
});

describe("routes and addresses", () => {
  it("routes every catalogue address, once each, to the web container", () => {
    expect(internetAddresses(catalogue)).toEqual([
      "34.160.111.145",
      "52.216.8.101",
      "52.216.100.10",
      "52.217.44.6",
      "54.198.86.24",
      "203.0.113.50",
    ]);
    expect(nodeRoutes(["198.51.100.66"], "172.18.0.250")).toBe(
      "route replace 198.51.100.66/32 via 172.18.0.250\n",
    );
  });
});

describe("rotating domains", () => {
  const rotating = parseCatalogue(
    `
resolvers: [8.8.8.8]
upstream: 172.18.0.1
domains:
  api.stripe.com: {ips: [54.187.174.169, 54.187.205.235], ttl: 60, rotate: {every: 0s, pool: [54.187.0.0/16, 54.241.31.0/24]}}
  api.twilio.com: {ips: [18.215.127.113], ttl: 60, rotate: {every: 0s, pool: [18.0.0.0/8]}}
  ifconfig.me: {kind: echo, ips: [34.160.111.145], ttl: 300}
`,
    "rotating.yaml",
  );

  it("answers on every address a rotation can give, and routes each as one address, never a whole pool", () => {
    const candidates = rotationCandidates(rotating);
    const stripe = candidates.get("api.stripe.com")!.flat();
    const twilio = candidates.get("api.twilio.com")!.flat();
    expect(stripe).toHaveLength(ROTATION_GROUPS * 2);
    expect(twilio).toHaveLength(ROTATION_GROUPS);
    expect(stripe.every((ip) => inCidr(ip, "54.187.0.0/16") || inCidr(ip, "54.241.31.0/24"))).toBe(true);
    expect(twilio.every((ip) => inCidr(ip, "18.0.0.0/8"))).toBe(true);
    const addresses = internetAddresses(rotating);
    expect(addresses).toEqual(
      expect.arrayContaining([...stripe, ...twilio, "54.187.174.169", "34.160.111.145"]),
    );
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(addresses).toHaveLength(3 + 1 + stripe.length + twilio.length);
    const routes = nodeRoutes(addresses, "172.18.0.250").trim().split("\n");
    expect(routes).toHaveLength(addresses.length);
    expect(routes.every((r) => /^route replace (\d+\.){3}\d+\/32 via 172\.18\.0\.250$/.test(r))).toBe(true);
    // nginx answers each candidate as its own domain (on the address, not by a catch-all).
    const conf = nginxConf(rotating);
    const stripeServer = conf.split("server {").find((b) => b.includes("server_name api.stripe.com;"))!;
    for (const ip of [...stripe, "54.187.174.169"]) {
      expect(stripeServer).toContain(`    listen ${ip}:80;`);
      expect(stripeServer).toContain(`    listen ${ip}:443 ssl;`);
    }
    expect(stripeServer).not.toContain(twilio[0]!);
  });
});

describe("nginxConf", () => {
  it("is a configuration nginx accepts, with the certificate made for the catalogue's names", () => {
    for (const cat of [defaultCatalogue(), catalogue]) {
      const dir = mkdtempSync(path.join(os.tmpdir(), "egresslab-nginx-"));
      try {
        const { cert, key } = webCertificate(cat);
        mkdirSync(path.join(dir, "egresslab"));
        writeFileSync(path.join(dir, "egresslab", "cert.pem"), cert);
        writeFileSync(path.join(dir, "egresslab", "key.pem"), key);
        writeFileSync(
          path.join(dir, "site.conf"),
          nginxConf(cat).replaceAll("/etc/nginx/egresslab/", `${dir}/egresslab/`),
        );
        writeFileSync(
          path.join(dir, "nginx.conf"),
          `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/site.conf;\n}\n`,
        );
        const out = execFileSync(
          "/usr/sbin/nginx",
          ["-t", "-q", "-p", dir, "-e", `${dir}/error.log`, "-c", `${dir}/nginx.conf`],
          { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
        );
        expect(out).toBe("");
        const names = (
          forge.pki.certificateFromPem(cert).getExtension("subjectAltName") as {
            altNames: { value: string }[];
          }
        ).altNames.map((a) => a.value);
        expect(names).toEqual(
          expect.arrayContaining(cat.domains.filter((d) => !d.nxdomain).map((d) => d.name)),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("answers each domain on its own addresses, echoes the source, admits only the partner's sources", () => {
    const conf = nginxConf(catalogue);
    expect(conf).toContain(
      [
        "server {",
        "    listen 52.216.8.101:80;",
        "    listen 52.216.8.101:443 ssl;",
        "    listen 52.217.44.6:80;",
        "    listen 52.217.44.6:443 ssl;",
        "    server_name shop-assets.s3.amazonaws.com;",
      ].join("\n"),
    );
    expect(conf).toContain(
      '        default_type "application/xml";\n        return 200 "<ListBucketResult/>\\n";',
    );
    expect(conf).toContain('        return 200 "$remote_addr\\n";');
    expect(conf).toContain(
      [
        '        default_type "application/json";',
        '        add_header X-Lab "yes" always;',
        "        allow 10.10.10.0/24;",
        "        deny all;",
        '        return 200 "{\\"cost\\":\\"${dollar}5\\",\\"path\\":\\"a\\\\b\\"}";',
      ].join("\n"),
    );
    expect(conf).not.toContain("legacy-api");
  });
});
