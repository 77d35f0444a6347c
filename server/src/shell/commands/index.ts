/** The programs an image may ship beyond the userland's basics (the image table's `tools`), by name. */
import type { Tool } from "../types.ts";
import { shTool } from "./core.ts";
import { curl } from "./curl.ts";
import { dig, getent, nslookup } from "./dnstools.ts";
import { jq } from "./jq.ts";
import { nc } from "./nc.ts";
import { ping } from "./ping.ts";
import { tar } from "./tar.ts";
import { wget } from "./wget.ts";

export const netCommands: Record<string, Tool> = {
  curl,
  wget,
  nslookup,
  dig,
  nc,
  getent,
  ping,
  tar,
  jq,
  bash: shTool,
  zsh: shTool,
};
