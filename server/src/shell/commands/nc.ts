/** `nc` in its busybox and OpenBSD flavours: -z (scan), -v, -w SEC, -u; a request on stdin gets the peer's answer. */
import type { CmdIO, ShellEnv } from "../types.ts";
import { DEFAULT_CONNECT_CAP_MS, resolveHost, seconds, wait } from "./common.ts";

const BUSYBOX_USAGE = `BusyBox v1.36.1 (2024-06-10 07:11:47 UTC) multi-call binary.

Usage: nc [OPTIONS] HOST PORT  - connect
nc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen

	-e PROG	Run PROG after connect (must be last)
	-l	Listen mode, for inbound connects
	-lk	With -e, provides persistent server
	-p PORT	Local port
	-s ADDR	Local address
	-w SEC	Timeout for connects and final net reads
	-i SEC	Delay interval for lines sent
	-n	Don't do DNS resolution
	-u	UDP mode
	-b	Allow broadcasts
	-v	Verbose
	-o FILE	Hex dump traffic
	-z	Zero-I/O mode (scanning)
`;
const OPENBSD_USAGE = `usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]
	  [-m minttl] [-O length] [-P proxy_username] [-p source_port]
	  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]
	  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]
	  [destination] [port]
`;

export async function nc(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const bb = env.image.nc === "busybox";
  let zero = false;
  let verbose = false;
  let udp = false;
  let timeoutMs: number | undefined;
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === "z") zero = true;
        else if (c === "v") verbose = true;
        else if (c === "u") udp = true;
        else if (c === "n" || c === "4" || c === "N") continue;
        else if (c === "w" || c === "q" || c === "i") {
          const rest = a.slice(j + 1);
          const v = rest !== "" ? rest : args[++i];
          const ms = seconds(v);
          if (ms === undefined) {
            io.err(bb ? `nc: invalid number '${v ?? ""}'\n` : `nc: timeout invalid: ${v ?? ""}\n`);
            return 1;
          }
          if (c === "w") timeoutMs = ms;
          break;
        } else {
          io.err(
            bb
              ? `nc: unrecognized option: ${c}\n${BUSYBOX_USAGE}`
              : `nc: invalid option -- '${c}'\n${OPENBSD_USAGE}`,
          );
          return 1;
        }
      }
    } else pos.push(a);
  }
  const [host, portText] = pos;
  const port = Number(portText);
  if (!host || !portText || !Number.isInteger(port) || port < 1 || port > 65535) {
    io.err(bb ? BUSYBOX_USAGE : host && portText ? `nc: port number invalid: ${portText}\n` : OPENBSD_USAGE);
    return 1;
  }
  const r = await resolveHost(host, env);
  if (!r.ok) {
    io.err(
      bb
        ? `nc: bad address '${host}'\n`
        : `nc: getaddrinfo for host "${host}" port ${port}: Name or service not known\n`,
    );
    return 1;
  }
  const ip = r.ips[0]!;
  const proto = udp ? "udp" : "tcp";
  const res = env.net.connect({
    dstIp: ip,
    dstPort: port,
    protocol: udp ? "UDP" : "TCP",
    domain: host,
    bytesOut: io.stdin.length,
  });
  const success = (): void => {
    if (verbose)
      io.err(
        bb
          ? `${host} (${ip}:${port}) open\n`
          : `Connection to ${host} (${ip}) ${port} port [${proto}/*] succeeded!\n`,
      );
  };
  if (res.kind === "dropped" && !udp) {
    await wait(timeoutMs ?? DEFAULT_CONNECT_CAP_MS, env);
    io.err(
      bb
        ? `nc: ${host} (${ip}:${port}): Connection timed out\n`
        : `nc: connect to ${host} (${ip}) port ${port} (${proto}) timed out: Operation now in progress\n`,
    );
    return 1;
  }
  if (res.kind === "refused" || res.kind === "unreachable") {
    const why = res.kind === "refused" ? "Connection refused" : "No route to host";
    io.err(
      bb
        ? `nc: ${host} (${ip}:${port}): ${why}\n`
        : `nc: connect to ${host} (${ip}) port ${port} (${proto}) failed: ${why}\n`,
    );
    return 1;
  }
  success();
  if (zero || res.kind !== "established") return 0;
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r?\n([\s\S]*)$/.exec(io.stdin.toString("utf8"));
  if (m && res.peer.speaksHttp) {
    const headers: Record<string, string> = {};
    for (const line of m[3]!.split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const resp = res.peer.http({
      method: m[1]!,
      scheme: "http",
      host: headers.host ?? host,
      port,
      path: m[2]!,
      headers,
      body: "",
    });
    io.out(
      `HTTP/1.1 ${resp.status} ${resp.reason}\r\n${Object.entries(resp.headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n${m[1] === "HEAD" ? "" : resp.body}`,
    );
  }
  return 0;
}
