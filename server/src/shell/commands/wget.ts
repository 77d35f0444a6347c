/** BusyBox `wget` (1.36): -q, -O FILE/-O-, -T SEC/--timeout=SEC, --spider, -S, -U, --header; busybox messages. */
import { pathIn } from "../files.ts";
import type { CmdIO, ShellEnv } from "../types.ts";
import { DEFAULT_CONNECT_CAP_MS, parseUrl, resolveHost, seconds, wait } from "./common.ts";

export const WGET_USAGE = `BusyBox v1.36.1 (2024-06-10 07:11:47 UTC) multi-call binary.

Usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]
	[--post-data STR | --post-file FILE] [-Y on/off]
	[--no-check-certificate] [-P DIR] [-U AGENT] [-T SEC] URL...

Retrieve files via HTTP or FTP

	--spider	Only check URL existence: $? is 0 if exists
	--header STR	Add STR (of form 'header: value') to headers
	--post-data STR	Send STR using POST method
	--post-file FILE	Send FILE using POST method
	--no-check-certificate	Don't validate the server's certificate
	-c		Continue retrieval of aborted transfer
	-q		Quiet
	-P DIR		Save to DIR (default .)
	-S    		Show server response
	-T SEC		Network read timeout is SEC seconds
	-O FILE		Save to FILE ('-' for stdout)
	-o LOGFILE	Log messages to FILE
	-U STR		Use STR for User-Agent header
	-Y on/off	Use proxy
`;

interface Opts {
  quiet: boolean;
  output?: string;
  timeoutMs?: number;
  spider: boolean;
  serverResponse: boolean;
  userAgent: string;
  headers: string[];
  postData?: string;
  urls: string[];
}

function parse(args: string[]): Opts | string {
  const o: Opts = {
    quiet: false,
    spider: false,
    serverResponse: false,
    userAgent: "Wget",
    headers: [],
    urls: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const val = (): string | undefined => inline ?? args[++i];
    if (name === "--spider") o.spider = true;
    else if (name === "--quiet") o.quiet = true;
    else if (name === "--no-check-certificate" || name === "--continue") continue;
    else if (name === "--output-document") o.output = val();
    else if (name === "--timeout") {
      const ms = seconds(val());
      if (ms === undefined) return `wget: invalid number '${inline ?? args[i]}'\n`;
      o.timeoutMs = ms;
    } else if (name === "--header") o.headers.push(val() ?? "");
    else if (name === "--user-agent") o.userAgent = val() ?? "";
    else if (name === "--post-data") o.postData = val();
    else if (a.startsWith("--")) return `wget: unrecognized option '${a}'\n${WGET_USAGE}`;
    else if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === "q") o.quiet = true;
        else if (c === "S") o.serverResponse = true;
        else if (c === "c") continue;
        else if ("OTUPYo".includes(c)) {
          const rest = a.slice(j + 1);
          const v = rest !== "" ? rest : args[++i];
          if (v === undefined) return `wget: option requires an argument -- '${c}'\n${WGET_USAGE}`;
          if (c === "O") o.output = v;
          if (c === "U") o.userAgent = v;
          if (c === "T") {
            const ms = seconds(v);
            if (ms === undefined) return `wget: invalid number '${v}'\n`;
            o.timeoutMs = ms;
          }
          break;
        } else return `wget: unrecognized option: ${c}\n${WGET_USAGE}`;
      }
    } else o.urls.push(a);
  }
  if (o.urls.length === 0) return WGET_USAGE;
  return o;
}

export async function wget(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const o = parse(args);
  if (typeof o === "string") {
    io.err(o);
    return 1;
  }
  const info = (s: string): void => {
    if (!o.quiet) io.err(s);
  };
  for (const raw of o.urls) {
    const url = parseUrl(raw);
    if (!url || "error" in url) {
      io.err(`wget: not an http or ftp url: ${raw}\n`);
      return 1;
    }
    const r = await resolveHost(url.host, env);
    if (!r.ok) {
      io.err(
        `wget: bad address '${url.host}${url.port !== (url.scheme === "https" ? 443 : 80) ? `:${url.port}` : ""}'\n`,
      );
      return 1;
    }
    const ip = r.ips[0]!;
    info(`Connecting to ${url.host}${url.port !== 80 ? `:${url.port}` : ""} (${ip}:${url.port})\n`);
    const res = env.net.connect({
      dstIp: ip,
      dstPort: url.port,
      protocol: "TCP",
      domain: url.host,
      bytesOut: 120,
    });
    if (res.kind === "dropped") {
      await wait(o.timeoutMs ?? DEFAULT_CONNECT_CAP_MS, env);
      io.err("wget: download timed out\n");
      return 1;
    }
    if (res.kind !== "established") {
      io.err(
        `wget: can't connect to remote host (${ip}): ${res.kind === "refused" ? "Connection refused" : "Host is unreachable"}\n`,
      );
      return 1;
    }
    if (!res.peer.speaksHttp) {
      await wait(o.timeoutMs ?? DEFAULT_CONNECT_CAP_MS, env);
      io.err("wget: download timed out\n");
      return 1;
    }
    const headers: Record<string, string> = { host: url.host, "user-agent": o.userAgent };
    for (const h of o.headers) {
      const i = h.indexOf(":");
      if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    const resp = res.peer.http({
      method: o.spider ? "HEAD" : o.postData !== undefined ? "POST" : "GET",
      scheme: url.scheme,
      host: url.host,
      port: url.port,
      path: url.path,
      headers,
      body: o.postData ?? "",
    });
    if (o.serverResponse)
      io.err(
        `  HTTP/1.1 ${resp.status} ${resp.reason}\n${Object.entries(resp.headers)
          .map(([k, v]) => `  ${k}: ${v}\n`)
          .join("")}`,
      );
    if (resp.status >= 400) {
      io.err(`wget: server returned error: HTTP/1.1 ${resp.status} ${resp.reason}\n`);
      return 1;
    }
    if (o.spider) {
      info("remote file exists\n");
      continue;
    }
    const size = Buffer.byteLength(resp.body);
    const bar = `${String(size).padStart(7)}  0:00:00 ETA`;
    const target = o.output ?? (url.path.split("/").pop() || "index.html");
    if (target === "-") {
      info("writing to stdout\n");
      io.out(resp.body);
      info(`-                    100% |********************************| ${bar}\nwritten to stdout\n`);
    } else {
      const failed = target === "/dev/null" ? undefined : env.files.write(pathIn(env, target), resp.body);
      if (failed) {
        io.err(
          failed === "No space left on device"
            ? `wget: write error: ${failed}\n`
            : `wget: can't open '${target}': ${failed}\n`,
        );
        return 1;
      }
      info(
        `saving to '${target}'\n${target.padEnd(20).slice(0, 20)} 100% |********************************| ${bar}\n'${target}' saved\n`,
      );
    }
  }
  return 0;
}
