/**
 * YAML with locations: parses lab files keeping each node's line, and turns schema issues into problems that say
 * `file:line: path: message`.
 */
import { LineCounter, isNode, parseAllDocuments, type Document } from "yaml";
import type { z } from "zod";
import type { Problem } from "../../shared/errors.ts";

export interface LocatedDoc {
  value: unknown;
  /** The 1-based line of the node at `path` (or of its nearest existing parent). */
  lineOf(path: readonly PropertyKey[]): number;
}

/** Parses every document in `text`; syntax errors become problems located in `file`. Empty documents are skipped. */
export function parseYaml(text: string, file: string): { docs: LocatedDoc[]; problems: Problem[] } {
  const lc = new LineCounter();
  const problems: Problem[] = [];
  const docs: LocatedDoc[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lc, prettyErrors: false }) as Document.Parsed[]) {
    for (const e of doc.errors)
      problems.push({
        where: file,
        line: lc.linePos(e.pos[0]).line,
        message: `YAML: ${e.message.split("\n")[0]}`,
      });
    if (doc.errors.length) continue;
    if (doc.contents === null) continue;
    const docLine = lc.linePos(doc.contents.range?.[0] ?? 0).line;
    docs.push({
      value: doc.toJS({ maxAliasCount: 100 }) as unknown,
      lineOf(path) {
        for (let n = path.length; n >= 0; n--) {
          const node = doc.getIn(path.slice(0, n) as unknown[], true);
          if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
        }
        return docLine;
      },
    });
  }
  return { docs, problems };
}

/** Describes a path for a message: `checks[2].expect`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)),
    "",
  );
}

/** Every issue of a failed schema parse, located. */
export function schemaProblems(error: z.ZodError, doc: LocatedDoc, file: string): Problem[] {
  return error.issues.map((issue) => {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const path = [...(issue.path as PropertyKey[]), ...keys.slice(0, 1)];
    const at = formatPath(issue.path as PropertyKey[]);
    return { where: file, line: doc.lineOf(path), message: at ? `${at}: ${issue.message}` : issue.message };
  });
}

/** Parses a single-document YAML file against `schema`; returns the value or the problems. */
export function parseOne<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
): { value?: T; problems: Problem[]; doc?: LocatedDoc } {
  const { docs, problems } = parseYaml(text, file);
  if (problems.length) return { problems };
  if (docs.length !== 1)
    return { problems: [{ where: file, line: 1, message: "expected exactly one YAML document" }] };
  const doc = docs[0]!;
  const r = schema.safeParse(doc.value);
  if (!r.success) return { problems: schemaProblems(r.error, doc, file), doc };
  return { value: r.data, problems: [], doc };
}
