/** Loads the virtual internet's catalogue from `clusters/internet.yaml` (once per process). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseCatalogue, type Catalogue } from "./catalogue.ts";

export const CATALOGUE_PATH = fileURLToPath(new URL("../../../clusters/internet.yaml", import.meta.url));

let cached: Catalogue | undefined;

/** The default catalogue; throws `ValidationError` (file:line) if the file is malformed. */
export function defaultCatalogue(): Catalogue {
  return (cached ??= parseCatalogue(readFileSync(CATALOGUE_PATH, "utf8"), "clusters/internet.yaml"));
}
