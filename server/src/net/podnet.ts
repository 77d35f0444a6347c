/**
 * The network as seen from inside one pod: what `curl`, `wget`, `nslookup`, `nc` and `ping` use. Decisions are made
 * (and flow records written) at the moment of the attempt; the tools then wait on the cluster clock as the real
 * tools would (a dropped packet costs the client its timeout).
 */

export type Protocol = "TCP" | "UDP" | "ICMP";

export interface PodIdentity {
  namespace: string;
  name: string;
  ip: string;
  nodeName: string;
  hostname: string;
  image: string;
  labels: Record<string, string>;
}

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  ndots: number;
  /** Per-attempt timeout and attempts, as `options timeout:5 attempts:2` (the glibc/musl defaults). */
  timeoutMs: number;
  attempts: number;
}

/** The outcome of one DNS lookup (after the search list, as a stub resolver does it). */
export type DnsLookup =
  | {
      kind: "answer";
      /** The fully qualified name that answered (e.g. `web.shop.svc.cluster.local`). */
      name: string;
      /** CNAME chain, if the name is an alias. */
      cnames: string[];
      ips: string[];
      ttl: number;
      server: string;
      /** True when the answer needed TCP (truncated over UDP). */
      tcp: boolean;
    }
  | { kind: "nxdomain"; name: string; server: string }
  /** No response: the query or the answer was dropped (or the server's upstream was unreachable). */
  | { kind: "timeout"; server: string }
  /** The server answered SERVFAIL (e.g. CoreDNS could not reach its upstream). */
  | { kind: "servfail"; name: string; server: string }
  /** ICMP port unreachable: nothing listens on the server address. */
  | { kind: "refused"; server: string };

export interface HttpRequest {
  method: string;
  scheme: "http" | "https";
  host: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface HttpResponse {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: string;
}

/** Who answers once a connection is established. */
export interface Peer {
  /** A label for logs and verbose output: `nginx-7d…`, `api.stripe.com`. */
  description: string;
  /** Whether the peer presents a certificate valid for `host` (for https without `-k`). */
  certificateValidFor(host: string): boolean;
  /** Serves one HTTP request on the connection. */
  http(req: HttpRequest): HttpResponse;
  /** Whether the peer speaks HTTP on this port (else an HTTP client sees an empty reply). */
  speaksHttp: boolean;
}

export type ConnectOutcome =
  | { kind: "established"; peer: Peer; /** The source address the destination sees. */ sourceIp: string }
  | { kind: "refused" }
  /** Dropped by policy or by the network: the client waits for its timeout. */
  | { kind: "dropped" }
  /** No route (e.g. egress gateway routing with no gateway available): fails at once. */
  | { kind: "unreachable" };

export interface ConnectRequest {
  dstIp: string;
  dstPort: number;
  protocol: Protocol;
  /** The name the client resolved to get `dstIp`, for `dest_domains` in flow logs. */
  domain?: string;
  /** Bytes the client sends (for flow counters). */
  bytesOut?: number;
}

export interface PodNet {
  readonly pod: PodIdentity;
  readonly resolvConf: ResolvConf;
  /** `/etc/hosts` lines as name → address. */
  readonly hosts: ReadonlyMap<string, string>;
  /**
   * Resolves a name as the pod's stub resolver does: `/etc/hosts`, then the search list (ndots) against the
   * nameserver (or `server` when given, without the search list when the name has a dot). Also returns the
   * virtual time the lookup took (the resolver's timeouts) so the caller can wait for it.
   */
  resolve(
    name: string,
    opts?: { server?: string; useSearch?: boolean },
  ): { result: DnsLookup; elapsedMs: number };
  /** Opens a connection (TCP) or sends a datagram (UDP) and reports what happened. */
  connect(req: ConnectRequest): ConnectOutcome;
  /** Sends one ICMP echo; true if a reply comes back. */
  ping(dstIp: string, domain?: string): boolean;
}
