#!/usr/bin/env node
// The installed `egresslab` command: runs the TypeScript entry point through tsx.
import { register } from "tsx/esm/api";
import { fileURLToPath } from "node:url";
import path from "node:path";

register();
const here = path.dirname(fileURLToPath(import.meta.url));
const { main } = await import(path.join(here, "..", "server", "src", "main.ts"));
process.exitCode = await main(process.argv.slice(2));
