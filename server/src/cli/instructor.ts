/**
 * `egresslab instructor token|rotate`: the server owner's instructor token, kept in the data directory. `token`
 * prints it (made on first use); `rotate` replaces it, and a running server takes the new one at once (an open
 * board must then be opened again with the new address).
 */
import path from "node:path";
import type { Command } from "./command.ts";
import { formatHelp, parseOptions, type OptionSpecs } from "../config/options.ts";
import { ValidationError } from "../shared/errors.ts";
import {
  instructorTokenFile,
  readOrCreateSecretFile,
  rotateInstructorToken,
} from "../sessions/credentials.ts";

export const instructorOptionSpecs = {
  data: {
    type: "string",
    default: ".egresslab",
    env: "EGRESSLAB_DATA",
    arg: "DIR",
    description: "The server's data directory (the same as for serve)",
  },
  url: {
    type: "string",
    env: "EGRESSLAB_URL",
    arg: "URL",
    description: "The server's address, to print the board's address (e.g. http://localhost:3000)",
  },
} as const satisfies OptionSpecs;

const usage = "egresslab instructor token|rotate [options]";

export const instructorCommand: Command = {
  summary: "Show or rotate the instructor token kept in the data directory",
  async run(argv) {
    const o = parseOptions(instructorOptionSpecs, argv);
    const [action, ...extra] = o._;
    if (o.help || !action) {
      process.stdout.write(formatHelp(usage, instructorOptionSpecs) + "\n");
      return o.help ? 0 : 2;
    }
    if (!["token", "rotate"].includes(action) || extra.length)
      throw new ValidationError([
        { where: [action, ...extra].join(" "), message: "use: egresslab instructor token|rotate" },
      ]);
    const dataDir = path.resolve(o.data);
    const token =
      action === "rotate"
        ? rotateInstructorToken(dataDir)
        : readOrCreateSecretFile(instructorTokenFile(dataDir));
    process.stdout.write(`${token}\n`);
    if (o.url)
      process.stdout.write(
        `egresslab: instructor board ${o.url.replace(/\/+$/, "")}/instructor#token=${encodeURIComponent(token)}\n`,
      );
    if (action === "rotate")
      process.stderr.write(
        "egresslab: the old token no longer opens the board; a running server uses the new one within a second\n",
      );
    return 0;
  },
};
