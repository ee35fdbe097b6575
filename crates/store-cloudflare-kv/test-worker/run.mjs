// Runs the test Worker (built by worker-build into <build dir>) in workerd with
// miniflare, a fresh in-memory KV namespace bound as KV, on 127.0.0.1:<port>.
// Usage: node run.mjs <miniflare package dir> <build dir> <port>
import { createRequire } from "node:module";
import path from "node:path";

const [, , modules, build, port] = process.argv;
const require = createRequire(path.join(modules, "package.json"));
const { Miniflare } = require("miniflare");

const mf = new Miniflare({
  modules: true,
  scriptPath: path.join(build, "index.js"),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
  compatibilityDate: "2026-04-01",
  kvNamespaces: ["KV"],
  host: "127.0.0.1",
  port: Number(port),
});
await mf.ready;
console.log(`test worker ready on 127.0.0.1:${port}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
