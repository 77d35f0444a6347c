/**
 * The virtual internet of one cluster: names and their current addresses (with rotation), and what answers on a
 * public address. Rotation is computed lazily from the clock, so an idle cluster costs nothing.
 */
import { NotFoundError, ValidationError } from "../shared/errors.ts";
import type { Catalogue, DomainEntry } from "./catalogue.ts";
import { isReservedName } from "./catalogue.ts";
import { cidrContains, isPrivate, parseCidr, syntheticIp } from "../shared/ipv4.ts";
import type { HttpRequest, HttpResponse, Peer } from "./podnet.ts";
import { addressesAt, rotationCandidates, type RotationCandidates } from "./rotation.ts";

export type NameAnswer =
  | { kind: "answer"; name: string; cnames: string[]; ips: string[]; ttl: number; domains: string[] }
  | { kind: "nxdomain"; name: string };

/** What of the virtual internet survives a restart: manual rotations per domain and the schedule's position. */
export interface InternetState {
  /** Cluster-clock time the rotation schedule has run (downtime is not counted). */
  elapsedMs: number;
  /** Manual rotations (`rotate`) per catalogue domain name. */
  rotations: Record<string, number>;
}

export interface RotationResult {
  domain: string;
  previous: string[];
  ips: string[];
}

/** Whether `name` matches a catalogue name (`*.x.y` matches one or more labels before `x.y`). */
export function nameMatches(pattern: string, name: string): boolean {
  if (!pattern.startsWith("*.")) return pattern === name;
  const suffix = pattern.slice(1);
  return name.endsWith(suffix) && name.length > suffix.length;
}

/** Documentation ranges (RFC 5737): nothing answers there unless the catalogue says so. */
const DOCUMENTATION = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"].map((c) => parseCidr(c)!);

export class Internet {
  private readonly manual = new Map<string, number>();
  private readonly exact = new Map<string, DomainEntry>();
  private readonly wildcards: DomainEntry[] = [];
  private readonly startedAt: number;
  /** Where rotations draw addresses from (`rotation.ts`), shared with the lab's internet on kind. */
  readonly candidates: RotationCandidates;
  /** Every address a rotating domain has had or can have: unused ones drop packets. */
  private readonly rotating = new Set<string>();
  /**
   * The catalogue names the cluster's own DNS gives an address (the `hosts` of the lab's internet in its Corefile):
   * such an address answers as that name when it is one a rotation of the name can give, as the lab's internet on
   * kind does.
   */
  namedBy: (ip: string) => readonly string[] = () => [];

  /** `restore` (from `snapshot`) resumes the rotations and the schedule; domains no longer rotating are skipped. */
  constructor(
    readonly catalogue: Catalogue,
    private readonly seed: number,
    now: number,
    restore?: InternetState,
  ) {
    for (const d of catalogue.domains) {
      if (d.name.startsWith("*.")) this.wildcards.push(d);
      else this.exact.set(d.name, d);
    }
    this.wildcards.sort((a, b) => b.name.length - a.name.length);
    this.candidates = rotationCandidates(catalogue);
    for (const d of catalogue.domains)
      if (d.rotate)
        for (const ip of [...d.ips, ...(this.candidates.get(d.name)?.flat() ?? [])]) this.rotating.add(ip);
    this.startedAt = now - (restore?.elapsedMs ?? 0);
    for (const [name, n] of Object.entries(restore?.rotations ?? {}))
      if (this.exact.get(name)?.rotate && n > 0) this.manual.set(name, n);
  }

  /** The state to pass back to the constructor after a restart. */
  snapshot(now: number): InternetState {
    return { elapsedMs: Math.max(0, now - this.startedAt), rotations: Object.fromEntries(this.manual) };
  }

  /** The catalogue entry for a name (exact first, then the longest wildcard). */
  entry(name: string): DomainEntry | undefined {
    const n = name.toLowerCase().replace(/\.$/, "");
    return this.exact.get(n) ?? this.wildcards.find((w) => nameMatches(w.name, n));
  }

  /** The addresses a catalogue entry has at time `now`. */
  addressesOf(d: DomainEntry, now: number): string[] {
    const gen = this.generation(d, now);
    if (gen === 0 || !d.rotate) return d.ips;
    return addressesAt(d, this.candidates, this.seed, gen);
  }

  private generation(d: DomainEntry, now: number): number {
    const m = this.manual.get(d.name) ?? 0;
    const every = d.rotate?.everyMs ?? 0;
    return m + (every > 0 ? Math.max(0, Math.floor((now - this.startedAt) / every)) : 0);
  }

  /** Resolves a public name as an authoritative server would, following CNAMEs. */
  lookup(name: string, now: number): NameAnswer {
    let n = name.toLowerCase().replace(/\.$/, "");
    const cnames: string[] = [];
    for (let hop = 0; hop < 8; hop++) {
      if (isReservedName(n) || !n.includes(".")) return { kind: "nxdomain", name };
      const d = this.entry(n);
      if (!d) {
        return { kind: "answer", name, cnames, ips: [syntheticIp(n)], ttl: 300, domains: [name, ...cnames] };
      }
      if (d.nxdomain) return { kind: "nxdomain", name };
      if (d.cname) {
        cnames.push(d.cname);
        n = d.cname;
        continue;
      }
      return {
        kind: "answer",
        name,
        cnames,
        ips: this.addressesOf(d, now),
        ttl: d.ttl,
        domains: [name, ...cnames],
      };
    }
    return { kind: "nxdomain", name };
  }

  /** Rotates a domain's addresses now (`POST /egresslab/v1/internet/rotate`). */
  rotate(body: unknown, now: number): RotationResult {
    const domain =
      body && typeof body === "object" && typeof (body as { domain?: unknown }).domain === "string"
        ? (body as { domain: string }).domain.toLowerCase()
        : undefined;
    if (!domain)
      throw new ValidationError([
        { where: "domain", message: 'expected a JSON body such as {"domain": "api.stripe.com"}' },
      ]);
    const d = this.exact.get(domain);
    if (!d) throw new NotFoundError(`domain "${domain}" is not in the internet catalogue`);
    if (!d.rotate)
      throw new ValidationError([
        {
          where: "domain",
          message: `domain "${domain}" has fixed addresses (no rotate.pool in the catalogue)`,
        },
      ]);
    const previous = this.addressesOf(d, now);
    this.manual.set(d.name, (this.manual.get(d.name) ?? 0) + 1);
    return { domain: d.name, previous, ips: this.addressesOf(d, now) };
  }

  /** The catalogue entries currently served on an address. */
  entriesOn(ip: string, now: number): DomainEntry[] {
    return this.catalogue.domains.filter(
      (d) => !d.nxdomain && !d.cname && this.addressesOf(d, now).includes(ip),
    );
  }

  /** The entries the cluster's DNS names on an address that a rotation of theirs can give. */
  private namedOn(ip: string): DomainEntry[] {
    if (!this.rotating.has(ip)) return [];
    const out: DomainEntry[] = [];
    for (const name of this.namedBy(ip)) {
      const d = this.entry(name);
      if (
        d?.rotate &&
        !out.includes(d) &&
        (d.ips.includes(ip) || this.candidates.get(d.name)?.some((g) => g.includes(ip)))
      )
        out.push(d);
    }
    return out;
  }

  isResolver(ip: string): boolean {
    return this.catalogue.resolvers.includes(ip) || ip === this.catalogue.upstream;
  }

  /**
   * What answers on a public address and port, or undefined when nothing does (packets are dropped, as by a
   * firewall or an address nobody uses any more).
   */
  peer(ip: string, port: number, sourceIp: string, now: number): Peer | undefined {
    if (isPrivate(ip)) return undefined;
    const current = this.entriesOn(ip, now);
    const entries = [...current, ...this.namedOn(ip).filter((d) => !current.includes(d))];
    if (entries.length === 0) {
      // An address a rotating domain had, or may have: nobody uses it now.
      if (
        this.rotating.has(ip) ||
        !(port === 80 || port === 443) ||
        DOCUMENTATION.some((c) => cidrContains(c, ip))
      )
        return undefined;
      return plainPeer(ip);
    }
    const listening = entries.filter((e) => e.ports.includes(port));
    if (listening.length === 0) return undefined;
    const pick = (host: string): DomainEntry =>
      listening.find((e) => nameMatches(e.name, host.toLowerCase())) ?? listening[0]!;
    return {
      description: listening[0]!.name,
      speaksHttp: true,
      certificateValidFor: (host) => entries.some((e) => nameMatches(e.name, host.toLowerCase())),
      http: (req) => serve(pick(req.host), req, sourceIp),
    };
  }
}

function statusText(code: number): string {
  const t: Record<number, string> = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
  };
  return t[code] ?? "";
}

function response(status: number, body: string, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    reason: statusText(status),
    headers: {
      "content-type": "text/html; charset=utf-8",
      ...headers,
      "content-length": String(Buffer.byteLength(body)),
    },
    body,
  };
}

function serve(e: DomainEntry, req: HttpRequest, sourceIp: string): HttpResponse {
  switch (e.kind) {
    case "echo":
      return response(200, `${sourceIp}\n`, { "content-type": "text/plain; charset=utf-8" });
    case "partner": {
      const ok = e.allowSources.some((c) => cidrContains(parseCidr(c)!, sourceIp));
      if (!ok)
        return response(
          403,
          JSON.stringify({
            error: "forbidden",
            message: `source address ${sourceIp} is not on the allow-list`,
          }) + "\n",
          {
            "content-type": "application/json",
          },
        );
      break;
    }
    default:
      break;
  }
  const body =
    e.http.body ||
    `<!doctype html>\n<html><head><title>${req.host}</title></head><body><h1>${req.host}</h1></body></html>\n`;
  return response(e.http.status, body, e.http.headers);
}

function plainPeer(ip: string): Peer {
  return {
    description: ip,
    speaksHttp: true,
    certificateValidFor: (host) => host.includes(".") && !/^[0-9.]+$/.test(host) && syntheticIp(host) === ip,
    http: (req) =>
      response(
        200,
        `<!doctype html>\n<html><head><title>${req.host}</title></head><body><p>Welcome to ${req.host}.</p></body></html>\n`,
      ),
  };
}
