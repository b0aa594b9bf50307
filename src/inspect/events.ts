/**
 * The input events behind a verdict: route, status and network of chosen events, read back
 * from the replayed input files (the replay's `manifest.json` names them).
 */
import { existsSync } from 'node:fs';
import { readLines } from '../runners/replay/file-source.ts';
import type { EventDetail } from './agent-view.ts';

const EVENT_ID = /"eventId"\s*:\s*"((?:[^"\\]|\\.)*)"/;

type RawEvent = { eventId?: unknown; request?: { method?: unknown; route?: unknown; status?: unknown; ip?: unknown; asn?: unknown; country?: unknown } };

/** `AS64500 · DE · 203.0.113.7`, or what of it the event carries; `–` when nothing. */
export function networkOf(r: RawEvent['request']): string {
  const parts: string[] = [];
  if (typeof r?.asn === 'number') parts.push(`AS${r.asn}`);
  if (typeof r?.country === 'string') parts.push(r.country);
  if (typeof r?.ip === 'string') parts.push(r.ip);
  return parts.length ? parts.join(' · ') : '–';
}

/**
 * Details of the events whose ids are in `ids`, from the JSONL(.gz) files that still exist
 * (missing files are skipped; lines that are not JSON objects are ignored). An id seen twice
 * keeps its first event.
 */
export async function lookupEvents(files: readonly string[], ids: ReadonlySet<string>): Promise<Map<string, EventDetail>> {
  const out = new Map<string, EventDetail>();
  if (!ids.size) return out;
  for (const file of files) {
    if (!existsSync(file)) continue;
    for await (const { bytes } of readLines(file)) {
      // Cheap pre-check on the raw line: parse only the lines whose eventId is wanted.
      const m = EVENT_ID.exec(bytes.toString('utf8'));
      if (!m) continue;
      let id: unknown;
      try {
        id = JSON.parse(`"${m[1]!}"`);
      } catch {
        continue;
      }
      if (typeof id !== 'string' || !ids.has(id)) continue;
      let e: RawEvent;
      try {
        e = JSON.parse(bytes.toString('utf8')) as RawEvent;
      } catch {
        continue;
      }
      if (typeof e.eventId !== 'string' || !ids.has(e.eventId) || out.has(e.eventId)) continue;
      const r = e.request;
      out.set(e.eventId, {
        method: String(r?.method ?? '?'),
        route: String(r?.route ?? '?'),
        status: typeof r?.status === 'number' ? r.status : 0,
        network: networkOf(r),
      });
      if (out.size === ids.size) return out;
    }
  }
  return out;
}
