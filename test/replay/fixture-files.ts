/**
 * The committed workflow histories the replay suite replays: where they live, how they are named,
 * and what can be read from a history itself (workflow type and ID, the patches it went through).
 * Shared by the recorder (scripts/record-histories.ts) and the replay suite.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { Type } from 'protobufjs';
import { fromJson, toJson } from 'protobufjs/ext/protojson';
import { findCardNumbers } from '../support/card-numbers';

export const HISTORIES_DIR = path.resolve(__dirname, 'histories');

/** A workflow history, as `WorkflowHandle.fetchHistory()` returns it. */
export type History = temporal.api.history.v1.IHistory;

// @temporalio/proto exports the protobufjs reflection types under their proto names; protobufjs's
// ProtoJSON extension converts with them, to the JSON `temporal workflow show --output json` writes.
// (This needs one protobufjs 8 in node_modules: the direct `protobufjs` dependency makes npm hoist
// it, instead of giving @temporalio/proto a copy of its own, whose types this extension would
// reject with "type must be a Type".)
const HistoryType = temporal.api.history.v1.History as unknown as Type;

/** A history as pretty JSON, the ProtoJSON the CLI (and the SDK's own `historyToJSON`) writes. */
export function historyToJson(history: History): string {
  return JSON.stringify(toJson(HistoryType, HistoryType.fromObject(history)), null, 2);
}

/** Reads a history JSON as `historyToJson` or `temporal workflow show --output json` writes it. */
export function historyFromJson(json: unknown): History {
  // Fields a newer server or SDK added are skipped, as the SDK's reader skips them.
  return fromJson(HistoryType, json, { ignoreUnknownFields: true }) as History;
}

/** Marker the SDK records for `patched()` / `deprecatePatch()`; its `patch-data` detail names the patch. */
const PATCH_MARKER = 'core_patch';

export interface Fixture {
  /** File name without `.json`, e.g. `place-order-card-declined-compensated`. */
  name: string;
  file: string;
  history: History;
  workflowType: string;
  workflowId: string;
  /** Patch IDs the recorded run went through (their markers are in the history). */
  patches: string[];
}

function decodeJsonPayload(data: Uint8Array | string | null | undefined): unknown {
  if (!data) return undefined;
  const text =
    typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
  return JSON.parse(text);
}

/** Patch IDs whose markers a history holds, in the order they were recorded. */
export function patchesIn(history: History): string[] {
  const ids: string[] = [];
  for (const e of history.events ?? []) {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== PATCH_MARKER) continue;
    // Current SDKs write `patch-data: { id, deprecated }`; older ones wrote `patch_id: "<id>"`.
    const data = decodeJsonPayload(m.details?.['patch-data']?.payloads?.[0]?.data) as { id?: unknown } | undefined;
    const id = data?.id ?? decodeJsonPayload(m.details?.patch_id?.payloads?.[0]?.data);
    if (typeof id === 'string' && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** Activity types in the order the run scheduled them. */
export function activitiesIn(history: History): string[] {
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => typeof n === 'string');
}

/**
 * The fixture's file name: the scenario, plus the patches the run went through. A run on a new
 * code path (after a `patched()` change) therefore lands in a new file and never replaces the
 * fixture of the old path, which in-flight workflows may still be on.
 */
export function fixtureName(scenario: string, patches: string[]): string {
  const name = [scenario, ...patches.map((p) => `patched-${p}`)].join('--');
  if (name.length <= MAX_NAME) return name;
  // A run through many patches (a local-activity saga asks them all at its start) names as many as
  // fit, then how many more and a hash of the whole list: still one file per path, under the
  // 255-byte limit of a file name.
  const hash = createHash('sha256').update(patches.join('\n')).digest('hex').slice(0, 10);
  const named: string[] = [];
  for (const p of patches) {
    const candidate = [scenario, ...[...named, p].map((x) => `patched-${x}`)].join('--');
    if (candidate.length > MAX_NAME - 40) break;
    named.push(p);
  }
  return [scenario, ...named.map((p) => `patched-${p}`), `and-${patches.length - named.length}-more-${hash}`].join(
    '--',
  );
}

/** Longest fixture name (without `.json`): file systems allow 255 bytes. */
const MAX_NAME = 200;

export function parseFixture(file: string, json: string): Fixture {
  const history = historyFromJson(JSON.parse(json));
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const workflowType = started?.workflowType?.name;
  if (!started || !workflowType)
    throw new Error(`${file}: the first event is not a WorkflowExecutionStarted with a workflow type`);
  const name = path.basename(file, '.json');
  return {
    name,
    file,
    history,
    workflowType,
    // Histories recorded by recent servers carry the workflow ID; the workflows build idempotency
    // keys from it, so replay with the real one (the file name is only a fallback).
    workflowId: started.workflowId || name,
    patches: patchesIn(history),
  };
}

/** Every committed fixture, sorted by name. */
export function readFixtures(dir = HISTORIES_DIR): Fixture[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.sort().map((f) => parseFixture(path.join(dir, f), readFileSync(path.join(dir, f), 'utf8')));
}

/**
 * The full card numbers found in a history JSON, in its text or in any payload (payload data is
 * base64 in the JSON): `cardNumbers` and any other number that looks like a card
 * (test/support/card-numbers.ts, the scanner test/docs.test.ts runs over every committed file).
 * Fixtures are committed: they must hold sealed tokens and last-four only.
 */
export function cardNumbersIn(json: string, cardNumbers: readonly string[]): string[] {
  return [...new Set(findCardNumbers(json, cardNumbers).map((hit) => hit.number))];
}
