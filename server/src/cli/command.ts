/** A CLI subcommand: parses its own arguments and returns the process exit code. */
export interface Command {
  /** One line for the top-level help. */
  summary: string;
  /** Runs with the arguments after the command's name; resolves to the exit code. Throws typed errors on bad input. */
  run(argv: string[]): Promise<number>;
}
