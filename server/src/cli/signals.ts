/** Waiting for the signals that stop a long-running command. */

/** Resolves at the first SIGINT or SIGTERM; listens from the call on, and stops listening once resolved. */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
