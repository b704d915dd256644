// The official Google Gen AI SDK against sim-server's Gemini API endpoints.

import { ApiError, GoogleGenAI } from '@google/genai';

import {
  Report, captured, casesFor, conforms, expectThrow, loadCases,
} from './common.mjs';

const KEY = loadCases().keys.gemini;  // the C++ side sends the same key

function client(base) {
  return new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: base } });
}

// The generation config of a logical call, as the SDK's docs write it.
function config(c, tools) {
  const cfg = {};
  if (c.system) cfg.systemInstruction = c.system;
  if (c.tools) {
    cfg.tools = [{
      functionDeclarations: c.tools.map((name) => ({
        name, description: tools[name].description, parametersJsonSchema: tools[name].parameters,
      })),
    }];
  }
  const modes = { auto: 'AUTO', none: 'NONE', required: 'ANY' };
  if (c.tool_choice) {
    cfg.toolConfig = {
      functionCallingConfig: modes[c.tool_choice]
        ? { mode: modes[c.tool_choice] }
        : { mode: 'ANY', allowedFunctionNames: [c.tool_choice] },
    };
  }
  if (c.temperature !== undefined) cfg.temperature = c.temperature;
  if (c.max_tokens !== undefined) cfg.maxOutputTokens = c.max_tokens;
  if (c.output_schema) {
    cfg.responseMimeType = 'application/json';
    cfg.responseJsonSchema = c.output_schema;
  }
  return cfg;
}

// One turn of a chat (the SDK keeps the history, thought signatures included): the text, the
// function calls and, when streamed, how many chunks came.
// A function's result as the Gemini docs send it: its JSON object, or {output: ...}.
function responseObject(result) {
  try {
    const v = JSON.parse(result);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : { output: v };
  } catch {
    return { output: result };
  }
}

// The answer's text (r.text would warn on stderr about function call parts).
const textOf = (r) => (r?.candidates?.[0]?.content?.parts ?? [])
  .filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text).join('');

async function turn(chat, message, stream) {
  if (!stream) {
    const r = await chat.sendMessage({ message });
    return { text: textOf(r), calls: r.functionCalls ?? [], response: r };
  }
  const s = await chat.sendMessageStream({ message });
  let text = '';
  let chunks = 0;
  const calls = [];
  let last = null;
  for await (const chunk of s) {
    chunks += 1;
    text += textOf(chunk);
    calls.push(...(chunk.functionCalls ?? []));
    last = chunk;
  }
  return { text, calls, chunks, response: last };
}

async function crosscheck(base, all, report) {
  const ai = client(base);
  const texts = {};
  for (const c of casesFor(all, 'gemini')) {
    await report.run(`case ${c.name}`, async () => {
      const history = (c.history ?? []).map((m) => ({
        role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }],
      }));
      const chat = ai.chats.create({ model: c.model, config: config(c, all.tools), history });
      const [first, sent] = await captured(base, () => turn(chat, c.user, c.stream));
      report.captures[c.name] = sent;
      report.check(`case ${c.name}: one request per turn`, sent.length === 1, sent.length);
      texts[c.name] = first.text;
      if (c.stream) {
        report.check(`case ${c.name}: usage in the last chunk`,
          first.response?.usageMetadata?.totalTokenCount > 0, JSON.stringify(first.response?.usageMetadata));
      }
      if (c.output_schema) {
        const [ok, why] = conforms(first.text, c.output_schema);
        report.check(`case ${c.name}: output conforms to the schema`, ok, why);
      }
      if (c.tool_choice === 'none') {
        report.check(`case ${c.name}: no function call`, first.calls.length === 0, JSON.stringify(first.calls));
      } else if (c.tools) {
        report.check(`case ${c.name}: a function call`, first.calls.length === 1, JSON.stringify(first.calls));
        if (c.tool_choice && !['auto', 'required'].includes(c.tool_choice)) {
          report.check(`case ${c.name}: the named function`, first.calls[0]?.name === c.tool_choice,
            first.calls[0]?.name);
        }
        const required = all.tools[first.calls[0]?.name]?.parameters.required ?? [];
        report.check(`case ${c.name}: args have the required keys`,
          first.calls[0] && required.every((k) => k in first.calls[0].args), JSON.stringify(first.calls[0]?.args));
        const kept = chat.getHistory();
        const signed = kept[history.length + 1]?.parts?.find((p) => p.functionCall)?.thoughtSignature;
        report.check(`case ${c.name}: the chat history keeps the thought signature`,
          typeof signed === 'string' && signed.length > 0, JSON.stringify(kept));
      }
      if (!c.tool_result || first.calls.length === 0) return;
      const responses = first.calls.map((call) => ({
        functionResponse: { name: call.name, response: responseObject(c.tool_result) },
      }));
      const [second, sent2] = await captured(base, () => turn(chat, responses, c.stream));
      report.captures[c.name].push(...sent2);
      const replayed = sent2[0]?.body?.contents?.[history.length + 1]?.parts
        ?.find((p) => p.functionCall);
      report.check(`case ${c.name}: the SDK sent the thought signature back`,
        typeof replayed?.thoughtSignature === 'string', JSON.stringify(replayed));
      report.check(`case ${c.name}: final answer uses the function response`,
        second.text.includes(`(from ${first.calls[0].name})`), second.text);

      // The same history without the signature is refused, as Gemini 3 does.
      const unsigned = chat.getHistory().slice(0, history.length + 3).map((content) => ({
        role: content.role,
        parts: content.parts.map(({ thoughtSignature, ...rest }) => rest),
      }));
      const e = await expectThrow(report, `case ${c.name}: replay without signature`, () =>
        ai.models.generateContent({ model: c.model, contents: unsigned, config: config(c, all.tools) }));
      if (e) {
        report.check(`case ${c.name}: replay without signature is ApiError 400`,
          e instanceof ApiError && e.status === 400 && /thought_signature/.test(e.message),
          `${e.status} ${e.message}`);
      }
    });
  }
  report.check('plain and streamed replies to the same request are equal',
    texts.plain && texts.plain === texts.stream, `${texts.plain} | ${texts.stream}`);
}

async function behaviour(base, all, report) {
  const ai = client(base);
  const model = 'gemini-3-flash';

  await report.run('generateContentStream', async () => {
    const whole = await ai.models.generateContent({ model, contents: 'Say hello.' });
    const s = await ai.models.generateContentStream({ model, contents: 'Say hello.' });
    let text = '';
    let finish = '';
    for await (const chunk of s) {
      text += chunk.text ?? '';
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
    }
    report.check('generateContentStream: text equals generateContent', text === whole.text, text);
    report.check('generateContentStream: finishReason STOP', finish === 'STOP', finish);
  });

  await report.run('thinking', async () => {
    const r = await ai.models.generateContent({
      model, contents: 'Think, then answer.',
      config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } },
    });
    const parts = r.candidates[0].content.parts;
    report.check('thinkingConfig: thought parts first, then the answer',
      parts[0]?.thought === true && parts.some((p) => !p.thought && p.text), JSON.stringify(parts));
    report.check('thinkingConfig: thoughtsTokenCount', r.usageMetadata?.thoughtsTokenCount > 0,
      JSON.stringify(r.usageMetadata));
  });

  await report.run('responseSchema', async () => {
    const r = await ai.models.generateContent({
      model, contents: 'Rate it.',
      config: {
        responseMimeType: 'application/json',
        responseSchema: {
          type: 'OBJECT',
          properties: { score: { type: 'INTEGER' }, reason: { type: 'STRING' } },
          required: ['score', 'reason'],
        },
      },
    });
    const [ok, why] = conforms(r.text, {
      required: ['score', 'reason'],
      properties: { score: { type: 'integer' }, reason: { type: 'string' } },
    });
    report.check('responseSchema (OpenAPI subset): conforming JSON', ok, why);
  });

  await report.run('countTokens', async () => {
    const r = await ai.models.countTokens({ model, contents: 'Count these words please.' });
    report.check('models.countTokens', r.totalTokens > 0, JSON.stringify(r));
  });

  await report.run('models', async () => {
    const names = [];
    const pager = await ai.models.list();
    for await (const m of pager) names.push(m.name);
    report.check('models.list', names.some((n) => n.endsWith('sim-small')), names.join(','));
  });

  const errors = [
    ['429', 429, 'RESOURCE_EXHAUSTED'],
    ['status:auth', 400, 'INVALID_ARGUMENT'],
    ['status:invalid_request', 400, 'INVALID_ARGUMENT'],
    ['500', 500, 'INTERNAL'],
    ['status:overloaded', 503, 'UNAVAILABLE'],
    ['status:not_found', 404, 'NOT_FOUND'],
  ];
  for (const [fault, status, rpc] of errors) {
    await report.run(`error ${fault}`, async () => {
      const e = await expectThrow(report, `error ${fault}`, () => ai.models.generateContent({
        model, contents: 'x', config: { httpOptions: { headers: { 'x-sim-fault': fault } } },
      }));
      if (!e) return;
      report.check(`error ${fault}: ApiError with status ${status} (${rpc})`,
        e instanceof ApiError && e.status === status && e.message.includes(rpc), `${e.status} ${e.message}`);
    });
  }

  await report.run('error in stream', async () => {
    const e = await expectThrow(report, 'error in stream', async () => {
      const s = await ai.models.generateContentStream({
        model, contents: 'x',
        config: { httpOptions: { headers: { 'x-sim-fault': 'status:overloaded,after=2' } } },
      });
      for await (const chunk of s) void chunk;
    });
    if (!e) return;
    report.check('error in stream: ApiError 503 from the error event',
      e instanceof ApiError && e.status === 503, `${e.status} ${e.message}`);
  });
}

export async function run(base, all) {
  const report = new Report('gemini');
  await crosscheck(base, all, report);
  await behaviour(base, all, report);
  return report;
}
