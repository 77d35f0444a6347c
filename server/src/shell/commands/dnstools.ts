/** `nslookup` (busybox and bind flavours), `dig` and `getent hosts`: resolver tools with their real output. */
import { isIp } from "../../shared/ipv4.ts";
import type { DnsLookup } from "../../net/podnet.ts";
import type { CmdIO, ShellEnv } from "../types.ts";
import { wait } from "./common.ts";

const BUSYBOX_NSLOOKUP_USAGE = `BusyBox v1.36.1 (2024-06-10 07:11:47 UTC) multi-call binary.

Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]

Query DNS about HOST

QUERY_TYPE: soa,ns,a,aaaa,cname,mx,txt,any,srv,ptr
`;

function lookupOnce(
  env: ShellEnv,
  name: string,
  server: string | undefined,
  useSearch: boolean,
): { result: DnsLookup; elapsedMs: number } {
  return env.net.resolve(name, { ...(server ? { server } : {}), useSearch });
}

function isClusterName(n: string): boolean {
  return n.endsWith(".cluster.local");
}

export async function nslookup(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const bind = env.image.nslookup === "bind";
  const pos: string[] = [];
  for (const a of args) {
    if (/^-(type|query|q|timeout|retry|port)=/i.test(a) || a === "-debug" || a === "-nodebug") continue;
    if (a.startsWith("-")) {
      io.err(
        bind
          ? `*** Invalid option: ${a.slice(1)}\n`
          : `nslookup: unrecognized option: ${a.slice(1)}\n${BUSYBOX_NSLOOKUP_USAGE}`,
      );
      return 1;
    }
    pos.push(a);
  }
  const [name, server] = pos;
  if (!name) {
    io.err(bind ? "" : BUSYBOX_NSLOOKUP_USAGE);
    return 1;
  }
  if (server && !isIp(server)) {
    io.err(
      bind ? `;; couldn't get address for '${server}': not found\n` : `nslookup: bad address '${server}'\n`,
    );
    return 1;
  }
  const srv = server ?? env.net.resolvConf.nameservers[0] ?? "127.0.0.1";
  const header = bind
    ? `Server:\t\t${srv}\nAddress:\t${srv}#53\n\n`
    : `Server:\t\t${srv}\nAddress:\t${srv}:53\n\n`;
  if (isIp(name)) {
    io.out(`${header}** server can't find ${name.split(".").reverse().join(".")}.in-addr.arpa: NXDOMAIN\n\n`);
    return 1;
  }
  const { result, elapsedMs } = lookupOnce(env, name, server, true);
  await wait(elapsedMs, env);
  switch (result.kind) {
    case "timeout":
    case "refused":
      io.out(
        result.kind === "timeout"
          ? ";; connection timed out; no servers could be reached\n\n"
          : `;; communications error to ${srv}#53: connection refused\n`,
      );
      return 1;
    case "nxdomain":
      io.out(`${header}** server can't find ${name}: NXDOMAIN\n\n`);
      return 1;
    case "servfail":
      io.out(`${header}** server can't find ${name}: SERVFAIL\n\n`);
      return 1;
    case "answer": {
      const auth = isClusterName(result.name) ? "" : "Non-authoritative answer:\n";
      let text = header + auth;
      let cur = result.name;
      for (const c of result.cnames) {
        text += `${cur}\tcanonical name = ${c}.\n`;
        cur = c;
      }
      for (const ip of result.ips) text += `Name:\t${cur}\nAddress: ${ip}\n`;
      text += "\n";
      if (!bind && auth) text += `Non-authoritative answer:\n*** Can't find ${name}: No answer\n\n`;
      io.out(text);
      return 0;
    }
  }
}

export async function dig(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  let server: string | undefined;
  let name: string | undefined;
  let short = false;
  let search = false;
  let timeMs = 5000;
  let tries = 3;
  for (const a of args) {
    if (a.startsWith("@")) server = a.slice(1);
    else if (a === "+short") short = true;
    else if (a === "+search") search = true;
    else if (a === "+nosearch") search = false;
    else if (/^\+time=\d+$/.test(a)) timeMs = Number(a.slice(6)) * 1000;
    else if (/^\+(tries|retry)=\d+$/.test(a))
      tries = Number(a.split("=")[1]) + (a.startsWith("+retry") ? 1 : 0);
    else if (a.startsWith("+")) continue;
    else if (/^(a|A|IN|in)$/.test(a)) continue;
    else if (a.startsWith("-")) {
      io.err(
        `Invalid option: ${a}\nUsage:  dig [@global-server] [domain] [q-type] [q-class] {q-opt}\n            {global-d-opt} host [@local-server] {local-d-opt}\n            [ host [@local-server] {local-d-opt} [...]]\n`,
      );
      return 1;
    } else name = a;
  }
  if (!name) name = ".";
  if (server && !isIp(server)) {
    io.err(`dig: couldn't get address for '${server}': not found\n`);
    return 10;
  }
  const srv = server ?? env.net.resolvConf.nameservers[0] ?? "127.0.0.1";
  const { result, elapsedMs } = lookupOnce(env, name, server, search);
  if (result.kind !== "timeout" && result.kind !== "refused")
    await wait(Math.min(elapsedMs, timeMs * tries), env);
  const cmdLine = `\n; <<>> DiG 9.18.30 <<>> ${args.join(" ")}\n;; global options: +cmd\n`;
  if (result.kind === "timeout" || result.kind === "refused") {
    for (let i = 0; i < tries; i++) {
      await wait(timeMs, env);
      if (!short && i < tries - 1) io.out(`;; communications error to ${srv}#53: timed out\n`);
    }
    io.out(
      `${short ? "" : cmdLine};; communications error to ${srv}#53: timed out\n;; no servers could be reached\n`,
    );
    return 9;
  }
  const qname = (result.kind === "answer" ? result.name : name).replace(/\.?$/, ".");
  if (short) {
    if (result.kind === "answer")
      io.out(result.cnames.map((c) => `${c}.\n`).join("") + result.ips.map((ip) => `${ip}\n`).join(""));
    return 0;
  }
  const status = result.kind === "answer" ? "NOERROR" : result.kind === "nxdomain" ? "NXDOMAIN" : "SERVFAIL";
  const answers: string[] = [];
  if (result.kind === "answer") {
    let cur = qname;
    for (const c of result.cnames) {
      answers.push(`${cur}\t\t${result.ttl}\tIN\tCNAME\t${c}.`);
      cur = `${c}.`;
    }
    for (const ip of result.ips) answers.push(`${cur}\t\t${result.ttl}\tIN\tA\t${ip}`);
  }
  const id = (env.clock.now() % 65000) + 1;
  let text =
    cmdLine +
    ";; Got answer:\n" +
    `;; ->>HEADER<<- opcode: QUERY, status: ${status}, id: ${id}\n` +
    `;; flags: qr${isClusterName(qname.slice(0, -1)) ? " aa" : ""} rd ra; QUERY: 1, ANSWER: ${answers.length}, AUTHORITY: 0, ADDITIONAL: 1\n\n` +
    ";; OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232\n" +
    `;; QUESTION SECTION:\n;${qname}\t\t\tIN\tA\n\n`;
  if (answers.length) text += `;; ANSWER SECTION:\n${answers.join("\n")}\n\n`;
  const when = new Date(env.clock.now()).toUTCString().replace(/GMT$/, "UTC");
  const tcp = result.kind === "answer" && result.tcp;
  text += `;; Query time: 1 msec\n;; SERVER: ${srv}#53(${srv}) (${tcp ? "TCP" : "UDP"})\n;; WHEN: ${when}\n;; MSG SIZE  rcvd: ${40 + qname.length + answers.length * 16}\n\n`;
  io.out(text);
  return 0;
}

export async function getent(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  const [db, ...keys] = args;
  if (db !== "hosts" && db !== "ahosts" && db !== "ahostsv4") {
    io.err(
      db
        ? `Unknown database: ${db}\nTry \`getent --help' or \`getent --usage' for more information.\n`
        : "getent: wrong number of arguments\n",
    );
    return db ? 1 : 1;
  }
  if (keys.length === 0) {
    io.out([...env.net.hosts].map(([n, ip]) => `${ip.padEnd(15)} ${n}\n`).join(""));
    return 0;
  }
  let status = 0;
  for (const k of keys) {
    if (isIp(k)) {
      io.out(`${k.padEnd(15)} ${k}\n`);
      continue;
    }
    const { result, elapsedMs } = env.net.resolve(k);
    await wait(elapsedMs, env);
    if (result.kind !== "answer") {
      status = 2;
      continue;
    }
    const names = [result.name, ...(result.name !== k ? [k] : [])].join(" ");
    if (db === "hosts") io.out(`${result.ips[0]!.padEnd(15)} ${names}\n`);
    else
      for (const ip of result.ips)
        io.out(`${ip.padEnd(15)} STREAM ${names}\n${ip.padEnd(15)} DGRAM\n${ip.padEnd(15)} RAW\n`);
  }
  return status;
}
