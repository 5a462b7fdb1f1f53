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

/** A hanging call gives up after this long, so that nothing outlives the suite (cancellation reaches it sooner). */
const HANG_MS = 10_000;

/** Builds the fakes over one journal: per workflow ID, every call's start and end, in the order they happened. */
export function createFakeActivities(journal: Map<string, JournalEntry[]>): FakeActivities {
  const run = async (call: JournalEntry['call'], { name, round, cue }: FakeCall) => {
    const ctx = Context.current();
    const workflowId = ctx.info.workflowExecution?.workflowId ?? 'standalone';
    const entries = journal.get(workflowId) ?? [];
    journal.set(workflowId, entries);
    const attempt = ctx.info.attempt;
    entries.push({ call, event: 'start', name, round, attempt });
    try {
      await behave(cue, round, attempt, `${call} ${name}`);
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

async function behave(cue: Cue | undefined, round: number, attempt: number, what: string): Promise<void> {
  if (!cue) return;
  if (cue.hang) await Context.current().sleep(HANG_MS);
  else if (cue.delayMs) await Context.current().sleep(cue.delayMs);
  const now =
    cue.fail &&
    (cue.rounds === undefined || round < cue.rounds) &&
    (cue.attempts === undefined || attempt <= cue.attempts);
  if (!now) return;
  // As the real activities do (activities/http-client.ts), the failure's details say which attempt it was.
  throw ApplicationFailure.create({
    message: `${what} ${cue.fail === 'reject' ? 'rejected' : 'unavailable'} (round ${round}, attempt ${attempt})`,
    type: cue.fail === 'reject' ? REJECTED : OUTAGE,
    nonRetryable: cue.fail === 'reject',
    details: [{ attempt }],
  });
}
