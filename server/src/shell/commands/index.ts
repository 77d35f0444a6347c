/** The network tools an image may ship, by name. */
import type { Tool } from "../types.ts";
import { curl } from "./curl.ts";
import { dig, getent, nslookup } from "./dnstools.ts";
import { nc } from "./nc.ts";
import { ping } from "./ping.ts";
import { wget } from "./wget.ts";

export const netCommands: Record<string, Tool> = { curl, wget, nslookup, dig, nc, getent, ping };
