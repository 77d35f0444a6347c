/** `curl` 8.x: the common flags, its error messages and exit codes (6 resolve, 7 connect, 28 timeout, 22 -f, 60 cert). */
import { pathIn } from "../files.ts";
import type { HttpRequest, HttpResponse } from "../../net/podnet.ts";
import type { CmdIO, ShellEnv } from "../types.ts";
import { DEFAULT_CONNECT_CAP_MS, parseUrl, resolveHost, seconds, wait } from "./common.ts";

const VERSION = "8.11.1";
const TRY = "curl: try 'curl --help' or 'curl --manual' for more information\n";

interface Opts {
  silent: boolean;
  showError: boolean;
  verbose: boolean;
  head: boolean;
  include: boolean;
  output?: string;
  writeOut?: string;
  maxTimeMs?: number;
  connectTimeoutMs?: number;
  resolve: Map<string, string>;
  insecure: boolean;
  headers: string[];
  method?: string;
  data?: string;
  location: boolean;
  fail: boolean;
  userAgent: string;
  urls: string[];
}

const BOOL: Record<string, keyof Opts> = {
  s: "silent",
  silent: "silent",
  S: "showError",
  "show-error": "showError",
  v: "verbose",
  verbose: "verbose",
  I: "head",
  head: "head",
  i: "include",
  include: "include",
  k: "insecure",
  insecure: "insecure",
  L: "location",
  location: "location",
  f: "fail",
  fail: "fail",
};
const IGNORED_BOOL = new Set([
  "4",
  "6",
  "http1.1",
  "http2",
  "compressed",
  "no-progress-meter",
  "N",
  "no-buffer",
  "g",
  "globoff",
  "tlsv1.2",
  "ipv4",
]);
const WITH_ARG = new Set([
  "o",
  "output",
  "w",
  "write-out",
  "m",
  "max-time",
  "connect-timeout",
  "resolve",
  "H",
  "header",
  "X",
  "request",
  "d",
  "data",
  "data-raw",
  "data-binary",
  "A",
  "user-agent",
  "max-redirs",
  "retry",
  "e",
  "referer",
  "u",
  "user",
]);
const SHORT_LONG: Record<string, string> = {
  o: "output",
  w: "write-out",
  m: "max-time",
  H: "header",
  X: "request",
  d: "data",
  A: "user-agent",
  e: "referer",
  u: "user",
};

type Parsed = { opts: Opts } | { error: string; code: number };

export function parseCurlArgs(args: string[]): Parsed {
  const o: Opts = {
    silent: false,
    showError: false,
    verbose: false,
    head: false,
    include: false,
    resolve: new Map(),
    insecure: false,
    headers: [],
    location: false,
    fail: false,
    userAgent: `curl/${VERSION}`,
    urls: [],
  };
  const setArg = (name: string, v: string | undefined): string | undefined => {
    if (v === undefined)
      return `curl: option ${name.length === 1 ? "-" : "--"}${name}: requires parameter\n${TRY}`;
    const long = SHORT_LONG[name] ?? name;
    switch (long) {
      case "output":
        o.output = v;
        break;
      case "write-out":
        o.writeOut = v;
        break;
      case "max-time":
      case "connect-timeout": {
        const ms = seconds(v);
        if (ms === undefined) return `curl: option --${long}: expected a proper numerical parameter\n${TRY}`;
        if (long === "max-time") o.maxTimeMs = ms;
        else o.connectTimeoutMs = ms;
        break;
      }
      case "resolve": {
        const m = /^([^:]+):(\d+):(.+)$/.exec(v);
        if (!m) return `curl: option --resolve: bad argument\n`;
        o.resolve.set(`${m[1]!.toLowerCase()}:${m[2]}`, m[3]!.replace(/^\[|\]$/g, ""));
        break;
      }
      case "header":
        o.headers.push(v);
        break;
      case "request":
        o.method = v;
        break;
      case "data":
      case "data-raw":
      case "data-binary":
        o.data = o.data === undefined ? v : `${o.data}&${v}`;
        break;
      case "user-agent":
        o.userAgent = v;
        break;
      default:
        break;
    }
    return undefined;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--") && a.length > 2) {
      const name = a.slice(2);
      const neg = name.startsWith("no-") ? name.slice(3) : undefined;
      if (BOOL[name]) (o[BOOL[name]] as boolean) = true;
      else if (neg && BOOL[neg]) (o[BOOL[neg]] as boolean) = false;
      else if (IGNORED_BOOL.has(name)) continue;
      else if (WITH_ARG.has(name)) {
        const err = setArg(name, args[++i]);
        if (err) return { error: err, code: 2 };
      } else if (name === "help") return { error: "Usage: curl [options...] <url>\n", code: 0 };
      else return { error: `curl: option ${a}: is unknown\n${TRY}`, code: 2 };
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (BOOL[c]) (o[BOOL[c]] as boolean) = true;
        else if (IGNORED_BOOL.has(c) || c === "#") continue;
        else if (WITH_ARG.has(c)) {
          const rest = a.slice(j + 1);
          const err = setArg(c, rest !== "" ? rest : args[++i]);
          if (err) return { error: err, code: 2 };
          break;
        } else return { error: `curl: option -${c}: is unknown\n${TRY}`, code: 2 };
      }
      continue;
    }
    o.urls.push(a);
  }
  if (o.urls.length === 0) return { error: `curl: no URL specified\n${TRY}`, code: 2 };
  return { opts: o };
}

function writeOut(fmt: string, vars: Record<string, string>): string {
  return fmt
    .replace(/%\{(\w+)\}/g, (m, k: string) => vars[k] ?? m)
    .replace(/\\n/g, "\n")
    .replace(/\\t/g, "\t")
    .replace(/\\r/g, "\r");
}

function progress(total: number): string {
  const size = String(total).padStart(5);
  return (
    "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n" +
    "                                 Dload  Upload   Total   Spent    Left  Speed\n" +
    `\r100 ${size}  100 ${size}    0     0   ${String(total * 10).padStart(5)}      0 --:--:-- --:--:-- --:--:-- ${String(total * 10).padStart(5)}\n`
  );
}

export async function curl(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const parsed = parseCurlArgs(args);
  if ("error" in parsed) {
    (parsed.code === 0 ? io.out : io.err)(parsed.error);
    return parsed.code;
  }
  const o = parsed.opts;
  const start = env.clock.now();
  const elapsed = (): number => env.clock.now() - start;
  const vars: Record<string, string> = {
    http_code: "000",
    response_code: "000",
    remote_ip: "",
    remote_port: "",
    size_download: "0",
    time_total: "0.000000",
    url_effective: "",
    exitcode: "0",
  };
  const say = (s: string): void => {
    if (!o.silent || o.showError) io.err(s);
  };
  const verbose = (s: string): void => {
    if (o.verbose) io.err(s);
  };
  const finish = (code: number): number => {
    vars.exitcode = String(code);
    vars.time_total = (elapsed() / 1000).toFixed(6);
    if (o.writeOut !== undefined) io.out(writeOut(o.writeOut, vars));
    return code;
  };

  let status = 0;
  for (const rawUrl of o.urls) {
    let url = parseUrl(rawUrl);
    if (url && "error" in url) {
      say(`curl: (1) Protocol "${url.scheme}" not supported\n`);
      return finish(1);
    }
    if (!url) {
      say(`curl: (3) URL rejected: Malformed input to a URL function\n`);
      return finish(3);
    }
    vars.url_effective = `${url.scheme}://${url.host}${(url.scheme === "http" && url.port === 80) || (url.scheme === "https" && url.port === 443) ? "" : `:${url.port}`}${url.path}`;
    let redirects = 0;
    for (;;) {
      // --connect-timeout covers name resolution and the TCP connect (curl's "connection phase"); -m covers all.
      const phaseStart = elapsed();
      const budget = Math.min(
        o.maxTimeMs !== undefined ? o.maxTimeMs - elapsed() : Infinity,
        o.connectTimeoutMs ?? Infinity,
      );
      // Name resolution.
      const pinned = o.resolve.get(`${url.host}:${url.port}`);
      let ip: string;
      if (pinned) {
        ip = pinned;
        verbose(
          `* Added ${url.host}:${url.port}:${pinned} to DNS cache\n* Hostname ${url.host} was found in DNS cache\n`,
        );
      } else {
        const r = await resolveHost(url.host, env, budget);
        if (!r.ok) {
          if (r.timedOut) {
            say(`curl: (28) Resolving timed out after ${elapsed()} milliseconds\n`);
            return finish(28);
          }
          verbose(`* Could not resolve host: ${url.host}\n`);
          say(`curl: (6) Could not resolve host: ${url.host}\n`);
          return finish(6);
        }
        ip = r.ips[0]!;
        if (r.lookup)
          verbose(
            `* Host ${url.host}:${url.port} was resolved.\n* IPv6: (none)\n* IPv4: ${r.ips.join(", ")}\n`,
          );
      }
      verbose(`*   Trying ${ip}:${url.port}...\n`);
      vars.remote_ip = ip;
      vars.remote_port = String(url.port);
      const res = env.net.connect({
        dstIp: ip,
        dstPort: url.port,
        protocol: "TCP",
        domain: url.host,
        bytesOut: 100 + (o.data?.length ?? 0),
      });
      if (res.kind === "dropped") {
        const remaining = o.maxTimeMs !== undefined ? o.maxTimeMs - elapsed() : Infinity;
        const connectLimit =
          o.connectTimeoutMs !== undefined ? o.connectTimeoutMs - (elapsed() - phaseStart) : Infinity;
        const waitMs = Math.min(
          remaining,
          connectLimit,
          o.maxTimeMs === undefined && o.connectTimeoutMs === undefined ? DEFAULT_CONNECT_CAP_MS : Infinity,
        );
        await wait(waitMs, env);
        if (o.maxTimeMs === undefined && o.connectTimeoutMs === undefined) {
          verbose(
            `* connect to ${ip} port ${url.port} from ${env.net.pod.ip} port 41234 failed: Connection timed out\n`,
          );
          say(
            `curl: (28) Failed to connect to ${url.host} port ${url.port} after ${elapsed()} ms: Couldn't connect to server\n`,
          );
        } else {
          const e = elapsed() + 1;
          verbose(`* Connection timed out after ${e} milliseconds\n`);
          say(`curl: (28) Connection timed out after ${e} milliseconds\n`);
        }
        return finish(28);
      }
      if (res.kind === "refused" || res.kind === "unreachable") {
        const why = res.kind === "refused" ? "Connection refused" : "No route to host";
        verbose(`* connect to ${ip} port ${url.port} from ${env.net.pod.ip} port 41234 failed: ${why}\n`);
        say(
          `curl: (7) Failed to connect to ${url.host} port ${url.port} after ${elapsed()} ms: Couldn't connect to server\n`,
        );
        return finish(7);
      }
      verbose(`* Connected to ${url.host} (${ip}) port ${url.port}\n`);
      const peer = res.peer;
      if (url.scheme === "https") {
        if (!peer.speaksHttp) {
          say(`curl: (35) OpenSSL/3.3.2: error:0A00010B:SSL routines::wrong version number\n`);
          return finish(35);
        }
        if (!o.insecure && !peer.certificateValidFor(url.host)) {
          say(
            `curl: (60) SSL: no alternative certificate subject name matches target host name '${url.host}'\n` +
              "More details here: https://curl.se/docs/sslcerts.html\n\n" +
              "curl failed to verify the legitimacy of the server and therefore could not\n" +
              "establish a secure connection to it. To learn more about this situation and\n" +
              "how to fix it, please visit the webpage mentioned above.\n",
          );
          return finish(60);
        }
        verbose(
          `* ALPN: server accepted h2\n* Server certificate:\n*  subject: CN=${url.host}\n*  SSL certificate verify ok.\n`,
        );
      }
      if (!peer.speaksHttp) {
        say(`curl: (52) Empty reply from server\n`);
        return finish(52);
      }
      const headers: Record<string, string> = {
        Host: url.port === (url.scheme === "https" ? 443 : 80) ? url.host : `${url.host}:${url.port}`,
        "User-Agent": o.userAgent,
        Accept: "*/*",
      };
      for (const h of o.headers) {
        const i = h.indexOf(":");
        if (i > 0) headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
      }
      const method = o.method ?? (o.head ? "HEAD" : o.data !== undefined ? "POST" : "GET");
      const req: HttpRequest = {
        method,
        scheme: url.scheme,
        host: url.host,
        port: url.port,
        path: url.path,
        headers: { ...headers, "user-agent": o.userAgent },
        body: o.data ?? "",
      };
      const version = url.scheme === "https" ? "HTTP/2" : "HTTP/1.1";
      verbose(
        `> ${method} ${url.path} ${version}\n${Object.entries(headers)
          .map(([k, v]) => `> ${k}: ${v}\n`)
          .join("")}>\n`,
      );
      const resp: HttpResponse = peer.http(req);
      vars.http_code = vars.response_code = String(resp.status);
      const statusLine =
        version === "HTTP/2" ? `HTTP/2 ${resp.status} ` : `HTTP/1.1 ${resp.status} ${resp.reason}`;
      const headerText =
        [statusLine, ...Object.entries(resp.headers).map(([k, v]) => `${k}: ${v}`)].join("\r\n") + "\r\n\r\n";
      verbose(
        headerText
          .split("\r\n")
          .filter(Boolean)
          .map((l) => `< ${l}\n`)
          .join("") + "<\n",
      );
      const location = resp.headers.location ?? resp.headers.Location;
      if (o.location && resp.status >= 300 && resp.status < 400 && location && redirects < 50) {
        redirects++;
        const next = parseUrl(
          location.startsWith("/") ? `${url.scheme}://${url.host}:${url.port}${location}` : location,
        );
        if (next && !("error" in next)) {
          if (o.include || o.head) io.out(headerText);
          url = next;
          continue;
        }
      }
      if (o.fail && resp.status >= 400) {
        say(`curl: (22) The requested URL returned error: ${resp.status}\n`);
        return finish(22);
      }
      const body = method === "HEAD" ? "" : resp.body;
      vars.size_download = String(Buffer.byteLength(body));
      let text = o.head || o.include ? headerText : "";
      if (!o.head) text += body;
      if (!o.silent && !env.tty && !o.verbose) io.err(progress(Buffer.byteLength(body)));
      if (o.output !== undefined) {
        if (o.output !== "/dev/null" && env.files.write(pathIn(env, o.output), text)) {
          say(`curl: (23) Failure writing output to destination, passed ${text.length} returned 0\n`);
          return finish(23);
        }
      } else io.out(text);
      verbose(`* Connection #0 to host ${url.host} left intact\n`);
      break;
    }
    status = 0;
  }
  return finish(status);
}
