// Shared helpers of the SDK checks: the logical calls (cases.json), the checks report, and
// sim-server's request capture (GET /_sim/requests).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function loadCases() {
  return JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8'));
}

export function sdkVersion(pkg) {
  const file = join(here, '..', 'node_modules', ...pkg.split('/'), 'package.json');
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

// The cases that apply to `protocol`.
export function casesFor(all, protocol) {
  return all.cases.filter((c) => !c.protocols || c.protocols.includes(protocol));
}

// Collects named checks; a check that throws is a failed check.
export class Report {
  constructor(protocol) {
    this.protocol = protocol;
    this.checks = [];
    this.captures = {};
  }
  check(name, ok, detail = '') {
    this.checks.push({ protocol: this.protocol, name, ok: Boolean(ok), detail: String(detail) });
    return Boolean(ok);
  }
  async run(name, fn) {
    try {
      await fn();
    } catch (e) {
      this.check(name, false, `threw ${e?.constructor?.name}: ${e?.message}`);
    }
  }
}

// The seq of the last captured request.
export async function lastSeq(base) {
  const r = await fetch(`${base}/_sim/requests?since=${Number.MAX_SAFE_INTEGER}`);
  return (await r.json()).last_seq;
}

// The requests captured after `since`, oldest first.
export async function capturedSince(base, since) {
  const r = await fetch(`${base}/_sim/requests?since=${since}`);
  return (await r.json()).requests;
}

// The requests sim-server served after `since` (GET /_sim/stats records).
export async function statsSince(base, since) {
  const r = await fetch(`${base}/_sim/stats`);
  return (await r.json()).requests.filter((x) => x.seq > since);
}

export async function statsTotal(base) {
  const r = await fetch(`${base}/_sim/stats`);
  return (await r.json()).total;
}

// Runs `fn` and returns [its result, the requests it sent].
export async function captured(base, fn) {
  const since = await lastSeq(base);
  const result = await fn();
  return [result, await capturedSince(base, since)];
}

// Expects `fn` to throw; returns the error (or null, after a failed check).
export async function expectThrow(report, name, fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  report.check(name, false, 'no error was raised');
  return null;
}

// The JSON text the model returned, parsed, and whether it has the schema's required keys with
// the right types.
export function conforms(text, schema) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return [false, `not JSON: ${text.slice(0, 80)}`];
  }
  for (const key of schema.required ?? []) {
    if (!(key in value)) return [false, `missing ${key}`];
    const want = schema.properties[key].type;
    const v = value[key];
    const ok =
      want === 'integer' ? Number.isInteger(v)
      : want === 'array' ? Array.isArray(v)
      : typeof v === want;
    if (!ok) return [false, `${key} is not ${want}: ${JSON.stringify(v)}`];
  }
  return [true, ''];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
