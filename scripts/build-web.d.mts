/** Where the built page lives. */
export declare const webDist: string;
/** True when web/dist is missing or older than any input. */
export declare function webIsStale(): boolean;
/** Builds web/dist if stale (or always, with `force`); resolves to true when it built. */
export declare function buildWeb(opts?: { force?: boolean }): Promise<boolean>;
