/** The fake activities of the runtime tests: plain functions that record each call and fail on cue. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { REJECTED, OUTAGE, type Cue, type FakeActivities, type FakeCall } from './plan';

export interface JournalEntry {
  /** `step` (forward action) or `undo` (compensation). */
  call: 'step' | 'undo';
  event: 'start' | 'end';
  name: string;
  round: number;
  attempt: number;
}

/**
 * What a fake step did to the world, as a service's row would show it: `applied` once its forward
 * action landed, `tombstone` once its compensation ran (whether or not the action had landed: a
 * late action then lands nothing, as the services' tombstones do). `landed`, `undone` and `blocked`
 * count the calls that changed it, undid it, or arrived after the tombstone.
 */
export interface Effect {
  state: 'applied' | 'tombstone';
  landed: number;
  undone: number;
  blocked: number;
}
/** Per workflow ID, per step name. */
export type Effects = Map<string, Map<string, Effect>>;

/** A hanging call gives up after this long, so that nothing outlives the suite (cancellation reaches it sooner). */
const HANG_MS = 10_000;

/** Builds the fakes over one journal: per workflow ID, every call's start and end, in the order they happened. */
export function createFakeActivities(
  journal: Map<string, JournalEntry[]>,
  effects: Effects = new Map(),
): FakeActivities {
  const run = async (call: JournalEntry['call'], { name, round, cue }: FakeCall) => {
    const ctx = Context.current();
    const workflowId = ctx.info.workflowExecution?.workflowId ?? 'standalone';
    const entries = journal.get(workflowId) ?? [];
    journal.set(workflowId, entries);
    const byStep = effects.get(workflowId) ?? new Map<string, Effect>();
    effects.set(workflowId, byStep);
    const attempt = ctx.info.attempt;
    entries.push({ call, event: 'start', name, round, attempt });
    const land = () => {
      const e = byStep.get(name);
      if (call === 'undo') {
        byStep.set(name, { landed: 0, blocked: 0, ...e, state: 'tombstone', undone: (e?.undone ?? 0) + 1 });
      } else if (!e) byStep.set(name, { state: 'applied', landed: 1, undone: 0, blocked: 0 });
      else if (e.state === 'tombstone') e.blocked += 1;
    };
    try {
      await behave(cue, round, attempt, `${call} ${name}`, land);
      land();
      return { value: name, attempt };
    } finally {
      entries.push({ call, event: 'end', name, round, attempt });
    }
  };
  return {
    fakeStep: (c) => run('step', c),
    fakeCompensation: (c) => run('undo', c),
  };
}

async function behave(
  cue: Cue | undefined,
  round: number,
  attempt: number,
  what: string,
  land: () => void,
): Promise<void> {
  if (!cue) return;
  if (cue.hang) await Context.current().sleep(HANG_MS);
  else if (cue.delayMs) await Context.current().sleep(cue.delayMs);
  const now =
    cue.fail &&
    (cue.rounds === undefined || round < cue.rounds) &&
    (cue.attempts === undefined || attempt <= cue.attempts);
  if (!now) return;
  if (cue.fail === 'break' && cue.lands) land();
  // As the real activities do (activities/http-client.ts), the failure's details say which attempt it was.
  throw ApplicationFailure.create({
    message: `${what} ${cue.fail === 'reject' ? 'rejected' : 'unavailable'} (round ${round}, attempt ${attempt})`,
    type: cue.fail === 'reject' ? REJECTED : OUTAGE,
    nonRetryable: cue.fail === 'reject',
    details: [{ attempt }],
  });
}
