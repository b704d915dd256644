// The official Anthropic SDK against sim-server's Messages endpoint.

import Anthropic from '@anthropic-ai/sdk';

import {
  Report, captured, casesFor, conforms, expectThrow, loadCases, statsSince, statsTotal,
} from './common.mjs';

const KEY = loadCases().keys.anthropic;  // the C++ side sends the same key

// baton asks for structured output with a forced tool (providers/anthropic/anthropic_codec.hpp:
// kOutputTool); the cross-check makes the same call through the SDK. The SDK's own way,
// output_config.format, is checked in behaviour().
const OUTPUT_TOOL = 'structured_output';
const OUTPUT_TOOL_DESCRIPTION =
  'Give your final answer by calling this tool; its input is the answer.';
const DEFAULT_MAX_TOKENS = 4096;  // baton's default when a call sets none

function client(base, options = {}) {
  return new Anthropic({ baseURL: base, apiKey: KEY, maxRetries: 0, ...options });
}

function params(c, tools) {
  const p = {
    model: c.model,
    max_tokens: c.max_tokens ?? DEFAULT_MAX_TOKENS,
    messages: [...(c.history ?? []), { role: 'user', content: c.user }],
  };
  if (c.system) p.system = c.system;
  if (c.tools) {
    p.tools = c.tools.map((name) => ({
      name, description: tools[name].description, input_schema: tools[name].parameters,
    }));
  }
  if (c.tool_choice === 'auto' || c.tool_choice === 'none') {
    p.tool_choice = { type: c.tool_choice };
  } else if (c.tool_choice === 'required') {
    p.tool_choice = { type: 'any' };
  } else if (c.tool_choice) {
    p.tool_choice = { type: 'tool', name: c.tool_choice };
  }
  if (c.output_schema) {
    p.tools = [...(p.tools ?? []), {
      name: OUTPUT_TOOL, description: OUTPUT_TOOL_DESCRIPTION, input_schema: c.output_schema,
    }];
    p.tool_choice = { type: 'tool', name: OUTPUT_TOOL };
  }
  if (c.temperature !== undefined) p.temperature = c.temperature;
  if (c.thinking) p.thinking = c.thinking;
  return p;
}

// One turn; streamed through the SDK's stream helper, which assembles the message.
async function turn(an, p, stream) {
  if (!stream) return { message: await an.messages.create(p) };
  const s = an.messages.stream(p);
  let deltas = '';
  let thinking = '';
  s.on('text', (delta) => { deltas += delta; });
  s.on('thinking', (delta) => { thinking += delta; });
  return { message: await s.finalMessage(), deltas, thinking };
}

const textOf = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

async function crosscheck(base, all, report) {
  const an = client(base);
  const texts = {};
  for (const c of casesFor(all, 'anthropic')) {
    await report.run(`case ${c.name}`, async () => {
      const p = params(c, all.tools);
      const [first, sent] = await captured(base, () => turn(an, p, c.stream));
      report.captures[c.name] = sent;
      report.check(`case ${c.name}: one request per turn`, sent.length === 1, sent.length);
      const m = first.message;
      texts[c.name] = textOf(m);
      if (c.stream) {
        report.check(`case ${c.name}: streamed deltas add up to the message`,
          first.deltas === textOf(m), first.deltas);
      }
      if (c.thinking) {
        const block = m.content[0];
        report.check(`case ${c.name}: a signed thinking block comes first`,
          block?.type === 'thinking' && block.signature?.length > 0 && block.thinking.length > 0,
          JSON.stringify(block));
        if (c.stream) {
          report.check(`case ${c.name}: thinking deltas add up to the block`,
            first.thinking === block?.thinking, first.thinking);
        }
      }
      const uses = m.content.filter((b) => b.type === 'tool_use');
      if (c.output_schema) {
        const [ok, why] = conforms(JSON.stringify(uses[0]?.input), c.output_schema);
        report.check(`case ${c.name}: output tool input conforms to the schema`, ok, why);
        return;
      }
      if (c.tool_choice === 'none') {
        report.check(`case ${c.name}: no tool call`, uses.length === 0, JSON.stringify(m.content));
      } else if (c.tools) {
        report.check(`case ${c.name}: a tool call`, uses.length === 1 && m.stop_reason === 'tool_use',
          JSON.stringify(m.content));
        if (c.tool_choice && !['auto', 'required'].includes(c.tool_choice)) {
          report.check(`case ${c.name}: the named tool`, uses[0]?.name === c.tool_choice, uses[0]?.name);
        }
        const required = all.tools[uses[0]?.name]?.parameters.required ?? [];
        report.check(`case ${c.name}: input has the required keys`,
          uses[0] && required.every((k) => k in uses[0].input), JSON.stringify(uses[0]?.input));
      }
      if (!c.tool_result || uses.length === 0) return;
      const results = uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: c.tool_result }));
      const p2 = {
        ...p,
        messages: [...p.messages, { role: 'assistant', content: m.content },
          { role: 'user', content: results }],
      };
      const [second, sent2] = await captured(base, () => turn(an, p2, c.stream));
      report.captures[c.name].push(...sent2);
      const text = textOf(second.message);
      report.check(`case ${c.name}: final answer uses the tool result`,
        text.includes(`(from ${uses[0].name})`), text);
      if (c.thinking) {
        // The same turn without its thinking block must be refused, as the real API does.
        const stripped = {
          ...p2,
          messages: [...p.messages, { role: 'assistant', content: uses }, p2.messages.at(-1)],
        };
        const e = await expectThrow(report, `case ${c.name}: replay without thinking`,
          () => an.messages.create({ ...stripped, stream: false }));
        if (e) {
          report.check(`case ${c.name}: replay without thinking is a BadRequestError`,
            e instanceof Anthropic.BadRequestError && e.status === 400, `${e.status} ${e.message}`);
        }
      }
    });
  }
  report.check('plain and streamed replies to the same request are equal',
    texts.plain && texts.plain === texts.stream, `${texts.plain} | ${texts.stream}`);
}

async function behaviour(base, all, report) {
  const an = client(base);
  const hello = { model: 'sim-small', max_tokens: 256, messages: [{ role: 'user', content: 'Say hello.' }] };

  await report.run('raw stream', async () => {
    const whole = await an.messages.create(hello);
    const stream = await an.messages.create({ ...hello, stream: true });
    const types = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        text += event.delta.text;
      }
    }
    report.check('raw stream: text equals the whole reply', text === textOf(whole), text);
    report.check('raw stream: message_start first, message_stop last',
      types[0] === 'message_start' && types.at(-1) === 'message_stop', types.join(','));
  });

  await report.run('output_config', async () => {
    const schema = all.cases.find((c) => c.output_schema).output_schema;
    const r = await an.messages.create({
      ...hello, messages: [{ role: 'user', content: 'Rate it.' }],
      output_config: { format: { type: 'json_schema', schema } },
    });
    const [ok, why] = conforms(textOf(r), schema);
    report.check('output_config.format: JSON text conforming to the schema', ok, why);
  });

  await report.run('count tokens', async () => {
    const r = await an.messages.countTokens({ model: 'sim-small', messages: hello.messages });
    report.check('messages.countTokens', r.input_tokens > 0, JSON.stringify(r));
  });

  await report.run('models', async () => {
    const ids = [];
    for await (const m of an.models.list()) ids.push(m.id);
    report.check('models.list', ids.includes('sim-small'), ids.join(','));
  });

  const errors = [
    ['429', 'RateLimitError', 429, 'rate_limit_error'],
    ['status:auth', 'AuthenticationError', 401, 'authentication_error'],
    ['status:invalid_request', 'BadRequestError', 400, 'invalid_request_error'],
    ['500', 'InternalServerError', 500, 'api_error'],
    ['status:overloaded', 'InternalServerError', 529, 'overloaded_error'],
    ['status:permission', 'PermissionDeniedError', 403, 'permission_error'],
  ];
  for (const [fault, cls, status, type] of errors) {
    await report.run(`error ${fault}`, async () => {
      const e = await expectThrow(report, `error ${fault}`, () =>
        an.messages.create(hello, { headers: { 'x-sim-fault': fault } }));
      if (!e) return;
      report.check(`error ${fault}: ${cls} with status ${status} and type ${type}`,
        e instanceof Anthropic[cls] && e.status === status && e.error?.error?.type === type &&
        typeof e.requestID === 'string' && e.requestID.length > 0,
        `${e.constructor.name} ${e.status} ${JSON.stringify(e.error)}`);
    });
  }

  await report.run('error in stream', async () => {
    const e = await expectThrow(report, 'error in stream', async () => {
      const s = await an.messages.create({ ...hello, stream: true },
        { headers: { 'x-sim-fault': 'status:overloaded,after=3' } });
      for await (const event of s) void event;
    });
    if (!e) return;
    report.check('error in stream: APIError carrying overloaded_error',
      e instanceof Anthropic.APIError && /overloaded/i.test(e.message), `${e.constructor.name}: ${e.message}`);
  });

  await report.run('retry', async () => {
    const since = await statsTotal(base);
    const retrying = client(base, { maxRetries: 2 });
    await fetch(`${base}/_sim/faults`, {
      method: 'POST', body: '"529,count=1,protocol=anthropic,retry_after=100ms"',
    });
    const r = await retrying.messages.create(hello);
    const seen = await statsSince(base, since);
    report.check('retry: the SDK retries a 529 and succeeds',
      textOf(r).length > 0 && seen.map((x) => x.status).join(',') === '529,200',
      seen.map((x) => x.status).join(','));
  });
}

export async function run(base, all) {
  const report = new Report('anthropic');
  await crosscheck(base, all, report);
  await behaviour(base, all, report);
  return report;
}
