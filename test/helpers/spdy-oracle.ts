/**
 * spdy-transport's SPDY/3 framer and parser, driven without a connection, as an independent implementation the
 * port-forward framing is checked against (its SYN_STREAM parser cannot read Kubernetes' streams, so it is not used
 * to serve them: see server/src/apiserver/portforward-spdy.ts).
 */
import transport, { type Framer, type ParsedFrame, type Parser } from "spdy-transport";

export type { ParsedFrame };

export interface Oracle {
  /** Bytes out of `framer`'s readable side. */
  framer: Framer;
  /** Bytes into `parser`; frames out (object mode). */
  parser: Parser;
}

/** A framer and a parser for one side of a SPDY/3 connection, each with its own header-compression context. */
export function spdyOracle(isServer: boolean, compress = true): Oracle {
  const spdy = transport.protocol.spdy;
  const pool = spdy.compressionPool.create(compress);
  const window = new transport.Window({ id: 0, isServer, recv: { size: 1 << 30 }, send: { size: 1 << 30 } });
  const framer = spdy.framer.create({ window });
  const parser = spdy.parser.create({ window, isServer });
  framer.setVersion(3);
  parser.setVersion(3);
  framer.setCompression(pool.get("3"));
  parser.setCompression(pool.get("3"));
  return { framer, parser };
}

/** The SPDY/3 header dictionary as spdy-transport carries it. */
export const oracleDictionary: Buffer = transport.protocol.spdy.dictionary[3]!;

/** Calls a framer method taking a callback, as a promise. */
export function framed(call: (cb: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => call((err) => (err ? reject(err) : resolve())));
}
