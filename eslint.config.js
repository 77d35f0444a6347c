import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules", "dist", "test-results", "web/dist"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["server/src/calico/**/*.ts", "server/src/labs/model/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "node:fs",
                "node:fs/*",
                "fs",
                "node:child_process",
                "node:net",
                "node:http",
                "node:https",
                "execa",
              ],
              message: "The Calico engine and the lab model are pure: do I/O in an adapter.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
);
