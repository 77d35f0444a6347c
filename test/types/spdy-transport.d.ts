/** The parts of spdy-transport 3.0.0 (untyped CommonJS) that the SPDY framing tests drive: its SPDY/3 framer and parser. */
declare module "spdy-transport" {
  import type { Readable, Transform } from "node:stream";

  interface WindowSide {
    size: number;
    max?: number;
  }
  class Window {
    constructor(options: { id: number; isServer: boolean; recv: WindowSide; send: WindowSide });
  }
  interface CompressionPair {
    version: string;
  }
  /** A frame as the parser emits it (SYN_STREAM and SYN_REPLY both come out as HEADERS). */
  interface ParsedFrame {
    type: string;
    id?: number;
    fin?: boolean;
    headers?: Record<string, string | string[]>;
    data?: Buffer;
    code?: string;
    lastId?: number;
    opaque?: Buffer;
    settings?: Record<string, number>;
    delta?: number;
  }
  type Done = (err?: Error | null) => void;
  /** Writes frames as bytes on its readable side. */
  interface Framer extends Readable {
    setVersion(v: number): void;
    setCompression(pair: CompressionPair): void;
    requestFrame(
      frame: { id: number; path: string; fin?: boolean; headers: Record<string, string> },
      cb?: Done,
    ): void;
    dataFrame(frame: { id: number; fin: boolean; data: Buffer; priority: false }, cb?: Done): void;
    rstFrame(frame: { id: number; code: string }, cb?: Done): void;
    goawayFrame(frame: { lastId: number; code: string }, cb?: Done): void;
    pingFrame(frame: { opaque: Buffer }, cb?: Done): void;
    settingsFrame(settings: Record<string, number>, cb?: Done): void;
    windowUpdateFrame(frame: { id: number; delta: number }, cb?: Done): void;
    headersFrame(frame: { id: number; headers: Record<string, string> }, cb?: Done): void;
  }
  /** Reads bytes on its writable side; emits `ParsedFrame`s in object mode. */
  interface Parser extends Transform {
    setVersion(v: number): void;
    setCompression(pair: CompressionPair): void;
  }
  const transport: {
    Window: typeof Window;
    protocol: {
      spdy: {
        dictionary: Record<number, Buffer>;
        framer: { create(options: { window: Window }): Framer };
        parser: { create(options: { window: Window; isServer: boolean }): Parser };
        compressionPool: { create(compression: boolean): { get(version: string): CompressionPair } };
      };
    };
  };
  export default transport;
  export type { Framer, Parser, ParsedFrame };
}
