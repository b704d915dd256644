// Runs the official OpenAI, Anthropic and Google Gen AI SDKs against a sim-server and prints a
// JSON report: every check (protocol, name, ok, detail), the SDK versions, and the HTTP
// requests each SDK sent for the logical calls of cases.json (from GET /_sim/requests), which
// tests/providers/sdk_crosscheck_test.cpp compares with baton's. Exits 1 when a check failed.
//
//   node tests/peers/sdk/run.mjs http://127.0.0.1:8089 [openai|anthropic|gemini ...]
//
// The server must run without --api-key or with the keys below accepted, and without faults.

import * as anthropic from './anthropic.mjs';
import { loadCases, sdkVersion } from './common.mjs';
import * as gemini from './gemini.mjs';
import * as openai from './openai.mjs';

const [base, ...only] = process.argv.slice(2);
if (!base) {
  console.error('usage: node run.mjs BASE_URL [openai|anthropic|gemini ...]');
  process.exit(2);
}
const suites = { openai, anthropic, gemini };
const packages = { openai: 'openai', anthropic: '@anthropic-ai/sdk', gemini: '@google/genai' };
const all = loadCases();
const out = { ok: true, versions: {}, checks: [], captures: {} };
for (const [name, suite] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue;
  out.versions[name] = sdkVersion(packages[name]);
  const report = await suite.run(base.replace(/\/+$/, ''), all);
  out.checks.push(...report.checks);
  out.captures[name] = report.captures;
}
out.ok = out.checks.length > 0 && out.checks.every((c) => c.ok);
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
for (const c of out.checks.filter((x) => !x.ok)) {
  console.error(`FAIL ${c.protocol}: ${c.name}: ${c.detail}`);
}
process.exit(out.ok ? 0 : 1);
