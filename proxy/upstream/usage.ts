/**
 * Reads the usage a provider reports, without buffering or re-parsing whole responses:
 * - JSON bodies: the object after the last `"usage":` key (top-level usage comes last in OpenAI and
 *   Anthropic responses; text inside string values has its quotes escaped, so it cannot match).
 * - Server-sent events: only `data:` lines that mention "usage" are parsed (OpenAI's final chunk with
 *   `stream_options.include_usage`, Responses API `response.completed`, Anthropic `message_start` and
 *   `message_delta`). Counts are cumulative in these reports, so the largest seen per field wins.
 */
import type { TokenUsage } from "../guardrails/pricing.ts";

export interface UsageReport extends TokenUsage {
  model: string | undefined;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

/** Folds one usage object (OpenAI or Anthropic field names) into `into`. */
function foldUsage(into: UsageReport, usage: Record<string, unknown>): void {
  // Anthropic reports cache reads and writes apart from input_tokens; OpenAI's prompt_tokens include them.
  const input =
    usage.prompt_tokens !== undefined
      ? num(usage.prompt_tokens)
      : num(usage.input_tokens) + num(usage.cache_creation_input_tokens) + num(usage.cache_read_input_tokens);
  const output = usage.completion_tokens !== undefined ? num(usage.completion_tokens) : num(usage.output_tokens);
  into.inputTokens = Math.max(into.inputTokens, input);
  into.outputTokens = Math.max(into.outputTokens, output);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Folds one parsed event or body (any of the shapes above). Returns true if it carried usage. */
export function foldEvent(into: UsageReport, event: unknown): boolean {
  if (!isRecord(event)) return false;
  const holder = isRecord(event.message) ? event.message : isRecord(event.response) ? event.response : event;
  if (into.model === undefined && typeof holder.model === "string") into.model = holder.model;
  let found = false;
  for (const u of [event.usage, holder.usage]) {
    if (isRecord(u)) {
      foldUsage(into, u);
      found = true;
    }
  }
  return found;
}

/** End index (exclusive) of the JSON object starting at `start` ("{"), or -1. Skips strings. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

const modelPattern = /^"model"\s*:\s*"([^"\\]{1,200})"/;

/** The first `"model": "<name>"` in the body; a Buffer is searched as bytes and only small windows decoded. */
function modelOf(body: string | Buffer): string | undefined {
  for (let at = body.indexOf('"model"'); at >= 0; at = body.indexOf('"model"', at + 1)) {
    const window = typeof body === "string" ? body.slice(at, at + 320) : body.toString("utf8", at, at + 320);
    const match = modelPattern.exec(window);
    if (match !== null) return match[1];
  }
  return undefined;
}

/**
 * Usage from a complete JSON response body; undefined when it reports none. A Buffer is read as bytes: only
 * the tail from the last `"usage"` key (and a window around `"model"`) is decoded, not the whole body.
 */
export function usageFromJson(body: string | Buffer): UsageReport | undefined {
  const at = body.lastIndexOf('"usage"');
  if (at < 0) return undefined;
  const tail = typeof body === "string" ? body.slice(at) : body.toString("utf8", at);
  const open = tail.indexOf("{");
  if (open < 0 || tail.slice(7, open).trim() !== ":") return undefined;
  const end = objectEnd(tail, open);
  if (end < 0) return undefined;
  let usage: unknown;
  try {
    usage = JSON.parse(tail.slice(open, end));
  } catch {
    return undefined;
  }
  if (!isRecord(usage)) return undefined;
  const report: UsageReport = { model: modelOf(body), inputTokens: 0, outputTokens: 0 };
  foldUsage(report, usage);
  return report;
}

/** Incremental SSE usage reader: feed it the response's chunks as they pass through. */
export class SseUsageReader {
  readonly report: UsageReport = { model: undefined, inputTokens: 0, outputTokens: 0 };
  found = false;
  #rest = "";
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array): void {
    const text = this.#rest + this.#decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      this.#line(text, start, nl);
      start = nl + 1;
    }
    this.#rest = text.slice(start);
    // A single line larger than this is not a usage report; drop it rather than grow without bound.
    if (this.#rest.length > 1_000_000) this.#rest = "";
  }

  end(): void {
    if (this.#rest.length > 0) this.#line(this.#rest, 0, this.#rest.length);
    this.#rest = "";
  }

  #line(text: string, start: number, end: number): void {
    if (!text.startsWith("data:", start)) return;
    const line = text.slice(start + 5, end);
    if (!line.includes('"usage"')) return;
    try {
      if (foldEvent(this.report, JSON.parse(line))) this.found = true;
    } catch {
      // not JSON (e.g. "[DONE]"): nothing to meter
    }
  }
}
