/**
 * The committed workflow histories the replay suite replays: where they live, how they are named,
 * and what can be read from a history itself (workflow type and ID, the patches it went through).
 * Shared by the recorder (scripts/record-histories.ts) and the replay suite.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.resolve(__dirname, 'histories');

/*
 * JSON <-> History, in the format of the SDK's `historyToJSON` / `historyFromJSON` (proto3 JSON, as
 * `temporal workflow show --output json` writes it). Those two functions cannot be called in this
 * install: npm could not hoist protobufjs 8 (the root slot holds the 7.x that @grpc/proto-loader
 * needs), so @temporalio/common and @temporalio/proto each got their own copy, and the protojson
 * extension of one copy rejects the other's types ("type must be a Type"). We use the protojson
 * extension of the very copy @temporalio/proto was built with, and the same enum fix-ups as the SDK.
 * Fixing it for good means a direct protobufjs@8 dependency (npm then hoists one copy).
 */
interface ProtoType {
  fromObject(o: unknown): unknown;
}
const requireFromCommon = createRequire(require.resolve('@temporalio/common'));
const protoEntry = requireFromCommon.resolve('@temporalio/proto');
const requireFromProto = createRequire(protoEntry);
const protojson = requireFromProto('protobufjs/ext/protojson') as {
  toJson(type: ProtoType, message: unknown): unknown;
  fromJson(type: ProtoType, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
};
const { patchProtobufRoot } = requireFromCommon('@temporalio/proto/lib/patch-protobuf-root') as {
  patchProtobufRoot(root: unknown): { lookupType(name: string): ProtoType };
};
const historyType = patchProtobufRoot(requireFromProto(protoEntry)).lookupType('temporal.api.history.v1.History');

/** A history as pretty JSON, exactly as `historyToJSON` writes it. */
export function historyToJson(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, historyType.fromObject(history)), null, 2);
}

/** Reads a history JSON as `historyToJSON` or `temporal workflow show --output json` writes it. */
export function historyFromJson(json: unknown): History {
  const h = json as { events?: Record<string, unknown>[] } | null;
  if (!h || !Array.isArray(h.events)) throw new TypeError('Invalid history: expected an object with an array of events');
  // Older CLIs write enums in PascalCase ("WorkflowExecutionStarted"); proto3 JSON wants the constant.
  const constant = (v: unknown, prefix: string) =>
    typeof v === 'string' && !v.startsWith(prefix) ? `${prefix}_${v.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toUpperCase()}` : v;
  const fixEnum = (o: Record<string, unknown>, key: string, prefix: string) => (o[key] === undefined ? {} : { [key]: constant(o[key], prefix) });
  const events = h.events.map((e) => {
    const attrKey = Object.keys(e).find((k) => k.endsWith('EventAttributes'));
    if (!attrKey) throw new TypeError(`Missing attributes in history event: ${JSON.stringify(e)}`);
    const a = e[attrKey] as Record<string, unknown>;
    const tq = a.taskQueue as Record<string, unknown> | undefined;
    return {
      ...e,
      ...fixEnum(e, 'eventType', 'EVENT_TYPE'),
      [attrKey]: {
        ...a,
        ...(tq ? { taskQueue: { ...tq, ...fixEnum(tq, 'kind', 'TASK_QUEUE_KIND') } } : {}),
        ...fixEnum(a, 'parentClosePolicy', 'PARENT_CLOSE_POLICY'),
        ...fixEnum(a, 'workflowIdReusePolicy', 'WORKFLOW_ID_REUSE_POLICY'),
        ...fixEnum(a, 'initiator', 'CONTINUE_AS_NEW_INITIATOR'),
        ...fixEnum(a, 'retryState', 'RETRY_STATE'),
      },
    };
  });
  return protojson.fromJson(historyType, { events }, { ignoreUnknownFields: true }) as History;
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
  const text = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
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
  return [scenario, ...patches.map((p) => `patched-${p}`)].join('--');
}

export function parseFixture(file: string, json: string): Fixture {
  const history = historyFromJson(JSON.parse(json));
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const workflowType = started?.workflowType?.name;
  if (!started || !workflowType) throw new Error(`${file}: the first event is not a WorkflowExecutionStarted with a workflow type`);
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
 * base64 in the JSON). Fixtures are committed: they must hold sealed tokens and last-four only.
 */
export function cardNumbersIn(json: string, cardNumbers: readonly string[]): string[] {
  const texts = [json];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'data' && typeof x === 'string') texts.push(Buffer.from(x, 'base64').toString('utf8'));
        else walk(x);
      }
    }
  };
  walk(JSON.parse(json));
  return cardNumbers.filter((n) => texts.some((t) => t.includes(n)));
}
