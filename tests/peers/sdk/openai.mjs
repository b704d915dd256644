// The official OpenAI SDK against sim-server's Chat Completions endpoint.

import OpenAI from 'openai';

import {
  Report, captured, casesFor, conforms, expectThrow, loadCases, statsSince, statsTotal,
} from './common.mjs';

const KEY = loadCases().keys.openai;  // the C++ side sends the same key

function client(base, options = {}) {
  return new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0, ...options });
}

// The SDK call for a logical call, written the way the SDK's docs write it.
function params(c, tools) {
  const messages = [];
  if (c.system) messages.push({ role: 'system', content: c.system });
  messages.push(...(c.history ?? []));
  messages.push({ role: 'user', content: c.user });
  const p = { model: c.model, messages };
  if (c.tools) {
    p.tools = c.tools.map((name) => ({
      type: 'function',
      function: { name, description: tools[name].description, parameters: tools[name].parameters },
    }));
  }
  if (c.tool_choice) {
    p.tool_choice = ['auto', 'none', 'required'].includes(c.tool_choice)
      ? c.tool_choice
      : { type: 'function', function: { name: c.tool_choice } };
  }
  if (c.output_schema) {
    p.response_format = {
      type: 'json_schema',
      json_schema: { name: 'output', schema: c.output_schema, strict: true },
    };
  }
  if (c.temperature !== undefined) p.temperature = c.temperature;
  if (c.max_tokens !== undefined) p.max_completion_tokens = c.max_tokens;
  if (c.stream) p.stream_options = { include_usage: true };
  return p;
}

// One turn: the assistant message, its text and the usage (streamed through the SDK's stream
// helper, which assembles the message from the chunks).
async function turn(oa, p, stream) {
  if (!stream) {
    const r = await oa.chat.completions.create(p);
    return { message: r.choices[0].message, usage: r.usage, finish: r.choices[0].finish_reason };
  }
  const s = oa.chat.completions.stream(p);
  let deltas = '';
  s.on('content', (delta) => { deltas += delta; });
  const r = await s.finalChatCompletion();
  const message = r.choices[0].message;
  return { message, usage: r.usage, finish: r.choices[0].finish_reason, deltas };
}

async function crosscheck(base, all, report) {
  const oa = client(base);
  const texts = {};
  for (const c of casesFor(all, 'openai')) {
    await report.run(`case ${c.name}`, async () => {
      const p = params(c, all.tools);
      const [first, sent] = await captured(base, () => turn(oa, p, c.stream));
      report.captures[c.name] = sent;
      report.check(`case ${c.name}: one request per turn`, sent.length === 1, sent.length);
      texts[c.name] = first.message.content ?? '';
      if (c.stream) {
        report.check(`case ${c.name}: streamed deltas add up to the message`,
          (first.deltas ?? '') === (first.message.content ?? ''), first.deltas);
        report.check(`case ${c.name}: usage arrives in the stream`,
          first.usage?.total_tokens > 0, JSON.stringify(first.usage));
      }
      if (c.output_schema) {
        const [ok, why] = conforms(first.message.content, c.output_schema);
        report.check(`case ${c.name}: output conforms to the schema`, ok, why);
      }
      const calls = first.message.tool_calls ?? [];
      if (c.tool_choice === 'none') {
        report.check(`case ${c.name}: no tool call`, calls.length === 0, JSON.stringify(calls));
      } else if (c.tools) {
        report.check(`case ${c.name}: a tool call`, calls.length === 1 && first.finish === 'tool_calls',
          JSON.stringify(first.message));
        if (c.tool_choice && !['auto', 'required'].includes(c.tool_choice)) {
          report.check(`case ${c.name}: the named tool`, calls[0]?.function.name === c.tool_choice,
            calls[0]?.function.name);
        }
        for (const call of calls) {
          let args = null;
          try { args = JSON.parse(call.function.arguments); } catch { /* reported below */ }
          const required = all.tools[call.function.name]?.parameters.required ?? [];
          report.check(`case ${c.name}: arguments are JSON with the required keys`,
            args && required.every((k) => k in args), call.function.arguments);
        }
      }
      if (!c.tool_result || calls.length === 0) return;
      const p2 = { ...p, messages: [...p.messages, first.message] };
      for (const call of calls) {
        p2.messages.push({ role: 'tool', tool_call_id: call.id, content: c.tool_result });
      }
      const [second, sent2] = await captured(base, () => turn(oa, p2, c.stream));
      report.captures[c.name].push(...sent2);
      const text = second.message.content ?? '';
      report.check(`case ${c.name}: final answer uses the tool result`,
        text.includes(`(from ${calls[0].function.name})`), text);
    });
  }
  report.check('plain and streamed replies to the same request are equal',
    texts.plain && texts.plain === texts.stream, `${texts.plain} | ${texts.stream}`);
}

async function behaviour(base, all, report) {
  const oa = client(base);
  const hello = { model: 'sim-small', messages: [{ role: 'user', content: 'Say hello.' }] };

  await report.run('raw stream', async () => {
    const whole = await oa.chat.completions.create(hello);
    const stream = await oa.chat.completions.create({ ...hello, stream: true });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    report.check('raw stream: text equals the whole reply', text === whole.choices[0].message.content,
      `${chunks} chunks: ${text}`);
  });

  await report.run('parse helper', async () => {
    const schema = all.cases.find((c) => c.output_schema).output_schema;
    const r = await oa.chat.completions.parse({
      model: 'sim-large',
      messages: [{ role: 'user', content: 'Rate it.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'rating', schema, strict: true } },
    });
    const parsed = r.choices[0].message.parsed;
    report.check('parse helper: parsed output', parsed && Number.isInteger(parsed.score),
      JSON.stringify(parsed));
  });

  await report.run('json_object', async () => {
    const r = await oa.chat.completions.create({
      model: 'sim-small',
      messages: [{ role: 'user', content: 'Answer in JSON.' }],
      response_format: { type: 'json_object' },
    });
    let ok = false;
    try { ok = typeof JSON.parse(r.choices[0].message.content) === 'object'; } catch { /* no */ }
    report.check('json_object: a JSON object', ok, r.choices[0].message.content);
  });

  await report.run('models', async () => {
    const ids = [];
    for await (const m of oa.models.list()) ids.push(m.id);
    report.check('models.list', ids.includes('sim-small'), ids.join(','));
  });

  const errors = [
    ['429', 'RateLimitError', 429],
    ['status:auth', 'AuthenticationError', 401],
    ['status:invalid_request', 'BadRequestError', 400],
    ['500', 'InternalServerError', 500],
    ['status:overloaded', 'InternalServerError', 503],
    ['status:not_found', 'NotFoundError', 404],
  ];
  for (const [fault, cls, status] of errors) {
    await report.run(`error ${fault}`, async () => {
      const e = await expectThrow(report, `error ${fault}`, () =>
        oa.chat.completions.create(hello, { headers: { 'x-sim-fault': fault } }));
      if (!e) return;
      report.check(`error ${fault}: ${cls} with status ${status}`,
        e instanceof OpenAI[cls] && e instanceof OpenAI.APIError && e.status === status,
        `${e.constructor.name} ${e.status}: ${e.message}`);
    });
  }
  await report.run('error 429 body', async () => {
    const e = await expectThrow(report, 'error 429 body', () =>
      oa.chat.completions.create(hello, { headers: { 'x-sim-fault': '429' } }));
    report.check('error 429: code and request id', e?.code === 'rate_limit_exceeded' &&
      typeof e?.requestID === 'string' && e.requestID.length > 0, `${e?.code} ${e?.requestID}`);
  });

  await report.run('error in stream', async () => {
    const e = await expectThrow(report, 'error in stream', async () => {
      const s = await oa.chat.completions.create({ ...hello, stream: true },
        { headers: { 'x-sim-fault': 'status:server_error,after=2' } });
      for await (const chunk of s) void chunk;
    });
    if (!e) return;
    report.check('error in stream: APIError from the error event',
      e instanceof OpenAI.APIError && /sim-server/.test(e.message), `${e.constructor.name}: ${e.message}`);
  });

  await report.run('retry', async () => {
    const since = await statsTotal(base);
    const retrying = client(base, { maxRetries: 2 });
    await fetch(`${base}/_sim/faults`, {
      method: 'POST', body: '"429,count=1,protocol=openai,retry_after=100ms"',
    });
    const r = await retrying.chat.completions.create(hello);
    const seen = await statsSince(base, since);
    report.check('retry: the SDK retries a 429 and succeeds',
      r.choices[0].message.content.length > 0 &&
      seen.map((x) => x.status).join(',') === '429,200', seen.map((x) => x.status).join(','));
  });
}

export async function run(base, all) {
  const report = new Report('openai');
  await crosscheck(base, all, report);
  await behaviour(base, all, report);
  return report;
}
