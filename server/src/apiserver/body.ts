/** Reading and decoding request bodies, with the real API server's 3 MiB limit and its error wording. */
import type { IncomingMessage } from "node:http";
import { parse as parseYaml } from "yaml";
import { ApiError } from "../store/types.ts";
import { decodeKubeProtobuf, isProtobuf } from "./protobuf.ts";
import { checkTree, jsonDepthExceeds } from "../shared/object.ts";

/** The real API server's limit on request bodies (`MaxRequestBodyBytes`, 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function tooLarge(limit = MAX_BODY_BYTES): ApiError {
  return new ApiError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${limit}`);
}

/** Reads the whole body; rejects with 413 as soon as it passes the limit. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      req.resume();
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!failed) reject(e);
    });
    req.on("close", () => {
      if (!req.complete && !failed) {
        failed = true;
        reject(
          new ApiError(400, "BadRequest", "the client closed the connection before sending the whole body"),
        );
      }
    });
  });
}

/** The media type of a Content-Type header, lower-case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/**
 * How deeply a body may nest. Kubernetes objects nest a few dozen levels; the limit keeps every recursive walk of a
 * stored object (clone, equality, schema decoding, patches, managedFields) far from the stack's end.
 */
export const MAX_BODY_DEPTH = 1000;
/** The largest body parsed as YAML text (JSON in a YAML media type has the general limit). */
export const MAX_YAML_BYTES = 16 * 1024;
/** YAML aliases a body may use (each alias can copy a whole subtree: "billion laughs"). */
export const MAX_YAML_ALIASES = 100;

/** Decodes a JSON (YAML for YAML media types, protobuf for Kubernetes protobuf) body, with the real server's wording for bad input. */
export function decodeBody(buf: Buffer, contentType: string | undefined): unknown {
  if (isProtobuf(contentType))
    return bounded(decodeKubeProtobuf(buf), "the request body is not a valid Kubernetes protobuf message");
  const text = buf.toString("utf8");
  const type = mediaType(contentType);
  if (text.trim() === "") throw new ApiError(400, "BadRequest", "the request body is empty");
  if (type.endsWith("yaml")) {
    // kubectl and client-node send their YAML media types with JSON inside: JSON is YAML, and parses in linear time.
    const start = text.trimStart()[0];
    if (start === "{" || start === "[") {
      const parsed = tryJson(text);
      if (parsed.ok) return parsed.value;
    }
    // The YAML parser costs about a microsecond a byte and more for many keys (duplicate checks): real YAML text is
    // kept to the size of a hand-written manifest so that one body cannot hold the event loop.
    if (buf.length > MAX_YAML_BYTES)
      throw new ApiError(
        413,
        "RequestEntityTooLarge",
        `Request entity too large: YAML bodies are limited to ${MAX_YAML_BYTES} bytes; send larger objects as JSON (as kubectl does)`,
      );
    let doc: unknown;
    try {
      doc = parseYaml(text, { strict: true, uniqueKeys: true, maxAliasCount: MAX_YAML_ALIASES }) as unknown;
    } catch (e) {
      const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new ApiError(400, "BadRequest", `error converting YAML to JSON: yaml: ${msg}`);
    }
    return bounded(doc, "error converting YAML to JSON: yaml");
  }
  if (jsonDepthExceeds(text, MAX_BODY_DEPTH)) throw tooDeep("couldn't get version/kind; json parse error");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new ApiError(400, "BadRequest", `couldn't get version/kind; json parse error: ${msg}`);
  }
}

/** JSON text parsed after the depth check (a 400 when it nests too deeply); `ok: false` when it is not JSON. */
function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (jsonDepthExceeds(text, MAX_BODY_DEPTH)) throw tooDeep("error converting YAML to JSON: yaml");
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const tooDeep = (what: string): ApiError =>
  new ApiError(400, "BadRequest", `${what}: exceeded max depth of ${MAX_BODY_DEPTH}`);

/** `doc` if it is a tree no deeper than `MAX_BODY_DEPTH`; a 400 (prefixed with `what`) for a cycle or deeper nesting. */
function bounded(doc: unknown, what: string): unknown {
  const { problem } = checkTree(doc, MAX_BODY_DEPTH);
  if (problem?.problem === "cycle")
    throw new ApiError(400, "BadRequest", `${what}: an alias refers to a value that contains it`);
  if (problem) throw new ApiError(400, "BadRequest", `${what}: exceeded max depth of ${problem.limit}`);
  return doc;
}
