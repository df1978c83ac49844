// Bundles the web UI with esbuild: src/main.js (the app) and src/pages/login.js (the sign-in
// page), each with its CSS, into OUTDIR/assets/<name>-<hash>.{js,css}; writes OUTDIR/index.html
// and OUTDIR/login.html pointing at them; lists every input in OUTDIR.d (a depfile) so the
// build runs again when one changes.
//
//   node ui/build.mjs OUTDIR [STAMP]
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, "dist"));
const stamp = process.argv[3];
const samples = readdirSync(join(here, "..", "samples", "migrations")).filter((f) => f.endsWith(".sql")).sort();

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { app: join(here, "src/main.js"), login: join(here, "src/pages/login.js") },
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: false,
  target: ["chrome110", "firefox110", "safari16"],
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  define: { __PGFLEET_SAMPLES__: JSON.stringify(samples) },
  logLevel: "warning",
});

const names = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) {
    if (file.endsWith(".css") && meta.inputs) {
      // the CSS esbuild gathered for an entry: named after it
      const base = file.split("/").pop().replace(/-[A-Z0-9]+\.css$/, "");
      names[`${base}.css`] = "/" + relative(out, resolve(file));
    }
    continue;
  }
  const base = meta.entryPoint.endsWith("main.js") ? "app" : "login";
  names[`${base}.js`] = "/" + relative(out, resolve(file));
  if (meta.cssBundle) names[`${base}.css`] = "/" + relative(out, resolve(meta.cssBundle));
}
for (const page of ["index.html", "login.html"]) {
  const html = readFileSync(join(here, "src", page), "utf8").replace(/\{\{([a-z]+\.(?:js|css))\}\}/g, (m, k) => {
    if (!names[k]) throw new Error(`${page}: no bundle for ${k}`);
    return names[k];
  });
  writeFileSync(join(out, page), html);
}
const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(p));
inputs.push(join(here, "src/index.html"), join(here, "src/login.html"), join(here, "package-lock.json"),
  join(here, "..", "samples", "migrations"));
if (stamp) {
  writeFileSync(`${stamp}.d`, `${stamp}: ${inputs.map((p) => p.replace(/ /g, "\\ ")).join(" ")}\n`);
  writeFileSync(stamp, JSON.stringify(names) + "\n");
}
let total = 0;
for (const [file, meta] of Object.entries(result.metafile.outputs)) total += meta.bytes;
console.log(`ui: ${Object.keys(result.metafile.outputs).length} assets, ${(total / 1024).toFixed(0)} kB before gzip`);
