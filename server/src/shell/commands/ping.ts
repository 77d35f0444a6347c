/** `ping` (busybox or iputils output): -c COUNT, -W SEC (reply wait), -w SEC (deadline), -q; ICMP under policy. */
import type { CmdIO, ShellEnv } from "../types.ts";
import { resolveHost, seconds, wait } from "./common.ts";

export async function ping(args: string[], io: CmdIO, env: ShellEnv): Promise<number> {
  let count = Infinity;
  let replyWaitMs = 1000;
  let deadlineMs = Infinity;
  let quiet = false;
  let host: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^-([cWwis])(.*)$/.exec(a);
    if (m) {
      const v = m[2] || args[++i];
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < 0) {
        io.err(`ping: invalid number '${v ?? ""}'\n`);
        return 1;
      }
      if (m[1] === "c") count = n;
      if (m[1] === "W") replyWaitMs = seconds(v) ?? 1000;
      if (m[1] === "w") deadlineMs = n * 1000;
      continue;
    }
    if (a === "-q") quiet = true;
    else if (a === "-4" || a === "-n") continue;
    else if (a.startsWith("-")) {
      io.err(
        `ping: unrecognized option: ${a.slice(1)}\nBusyBox v1.36.1 (2024-06-10 07:11:47 UTC) multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n`,
      );
      return 1;
    } else host = a;
  }
  if (!host) {
    io.err("BusyBox v1.36.1 (2024-06-10 07:11:47 UTC) multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n");
    return 1;
  }
  const iputils = env.image.ping === "iputils";
  const r = await resolveHost(host, env);
  if (!r.ok) {
    io.err(iputils ? `ping: ${host}: Name or service not known\n` : `ping: bad address '${host}'\n`);
    return iputils ? 2 : 1;
  }
  const ip = r.ips[0]!;
  io.out(iputils ? `PING ${host} (${ip}) 56(84) bytes of data.\n` : `PING ${host} (${ip}): 56 data bytes\n`);
  const start = env.clock.now();
  let sent = 0;
  let received = 0;
  const times: number[] = [];
  try {
    while (sent < count && env.clock.now() - start < deadlineMs) {
      const seq = sent++;
      const ok = env.net.ping(ip, host);
      if (ok) {
        received++;
        const t = 0.05 + ((seq * 37) % 100) / 1000;
        times.push(t);
        const ttl = ip.startsWith("192.168.") ? 63 : 117;
        const seqText = iputils ? `icmp_seq=${seq + 1}` : `seq=${seq}`;
        if (!quiet) io.out(`64 bytes from ${ip}: ${seqText} ttl=${ttl} time=${t.toFixed(3)} ms\n`);
        if (sent < count) await wait(1000, env);
      } else await wait(Math.max(replyWaitMs, sent < count ? 1000 : replyWaitMs), env);
    }
  } catch (e) {
    if (!env.signal.aborted) throw e;
  }
  const loss = sent ? Math.round(((sent - received) / sent) * 100) : 0;
  let text = iputils
    ? `\n--- ${host} ping statistics ---\n${sent} packets transmitted, ${received} received, ${loss}% packet loss, time ${Math.max(0, env.clock.now() - start - 1)}ms\n`
    : `\n--- ${host} ping statistics ---\n${sent} packets transmitted, ${received} packets received, ${loss}% packet loss\n`;
  if (times.length) {
    const min = Math.min(...times);
    const max = Math.max(...times);
    const avg = times.reduce((a, b) => a + b, 0) / times.length;
    const mdev = Math.sqrt(times.reduce((a, b) => a + (b - avg) ** 2, 0) / times.length);
    text += iputils
      ? `rtt min/avg/max/mdev = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)}/${mdev.toFixed(3)} ms\n`
      : `round-trip min/avg/max = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)} ms\n`;
  }
  io.out(text);
  return received > 0 ? 0 : 1;
}
