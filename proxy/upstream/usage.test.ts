import { describe, expect, it } from "vitest";
import { defaultPriceTable } from "../config.ts";
import { costMicroUsd, priceFor } from "../guardrails/pricing.ts";
import { SseUsageReader, usageFromJson } from "./usage.ts";

describe("usage from JSON bodies", () => {
  it("reads OpenAI chat completion usage and model", () => {
    const body = JSON.stringify({
      id: "x",
      model: "gpt-4o-mini-2024-07-18",
      choices: [{ message: { content: 'the text says "usage": {"prompt_tokens": 999999}' } }],
      usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect(usageFromJson(body)).toEqual({ model: "gpt-4o-mini-2024-07-18", inputTokens: 12, outputTokens: 30 });
  });

  it("reads Anthropic message usage including cache tokens", () => {
    const body = JSON.stringify({
      model: "claude-sonnet-4-20250514",
      content: [],
      usage: { input_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 10, output_tokens: 7 },
    });
    expect(usageFromJson(body)).toEqual({ model: "claude-sonnet-4-20250514", inputTokens: 115, outputTokens: 7 });
  });

  it("finds nothing in a body without usage", () => {
    expect(usageFromJson('{"data":[1,2,3]}')).toBeUndefined();
    expect(usageFromJson('{"usage": "none"}')).toBeUndefined();
    expect(usageFromJson(Buffer.from('{"usage": "none"}'))).toBeUndefined();
  });

  it("reads a body as bytes the same as text, multi-byte characters included", () => {
    const body = JSON.stringify({
      model: { family: "not a name" },
      choices: [{ message: { content: "héllo wörld — ünïcode before the usage key ✓" } }],
      meta: { model: "gpt-4o-2024-08-06" },
      usage: { prompt_tokens: 9, completion_tokens: 4 },
    });
    const expected = { model: "gpt-4o-2024-08-06", inputTokens: 9, outputTokens: 4 };
    expect(usageFromJson(body)).toEqual(expected);
    expect(usageFromJson(Buffer.from(body))).toEqual(expected);
  });
});

describe("usage from server-sent events", () => {
  it("reads the final OpenAI usage chunk split across reads", () => {
    const reader = new SseUsageReader();
    const stream =
      'data: {"model":"gpt-4o","choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n' +
      'data: {"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\r\n\r\n' +
      "data: [DONE]\n\n";
    const bytes = Buffer.from(stream);
    for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
    reader.end();
    expect(reader.found).toBe(true);
    expect(reader.report).toEqual({ model: "gpt-4o", inputTokens: 3, outputTokens: 4 });
  });

  it("combines Anthropic message_start and message_delta", () => {
    const reader = new SseUsageReader();
    reader.push(
      Buffer.from(
        'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-3-5-haiku-latest","usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
          'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"x"}}\n\n' +
          'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}\n\n',
      ),
    );
    reader.end();
    expect(reader.report).toEqual({ model: "claude-3-5-haiku-latest", inputTokens: 25, outputTokens: 15 });
  });
});

describe("pricing", () => {
  it("prices by exact name, then longest prefix, then the * entry", () => {
    expect(priceFor("gpt-4o-mini", defaultPriceTable)).toEqual(defaultPriceTable["gpt-4o-mini"]);
    expect(priceFor("gpt-4o-mini-2024-07-18", defaultPriceTable)).toEqual(defaultPriceTable["gpt-4o-mini"]);
    expect(priceFor("gpt-4o-2024-08-06", defaultPriceTable)).toEqual(defaultPriceTable["gpt-4o"]);
    expect(priceFor("mystery", defaultPriceTable)).toEqual(defaultPriceTable["*"]);
    expect(priceFor(undefined, defaultPriceTable)).toEqual(defaultPriceTable["*"]);
  });

  it("costs tokens in micro-USD, rounded up", () => {
    // 1M tokens at $2.5 is $2.5 = 2.5M micro-USD, so one token costs 2.5 micro-USD.
    expect(costMicroUsd({ inputTokens: 1, outputTokens: 0 }, { input: 2.5, output: 10 })).toBe(3);
    expect(costMicroUsd({ inputTokens: 1000, outputTokens: 100 }, { input: 2.5, output: 10 })).toBe(3500);
  });
});
