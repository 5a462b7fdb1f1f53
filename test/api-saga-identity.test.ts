/**
 * The API's generic handling of a saga's workflow identity and business rejections (SagaDefinition
 * `workflowIdentity` and `rejections`), shown on a test-only saga added to the registry for this
 * file: the two-step saga of test/support/key-scope-workflows.ts, keyed by a business key.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import request from 'supertest';
import type express from 'express';
import { z } from 'zod';
import { connectTemporal, type TemporalHarness } from './support/temporal';
import { uniqueId } from './support/services';
import type { SagaDefinition } from '../sagas/definition';

const KEY_SCOPE_SAGA = 'KeyScope';

jest.doMock('../sagas', () => {
  const actual = jest.requireActual<typeof import('../sagas')>('../sagas');
  const { keyScopeSaga } = jest.requireActual<typeof import('./support/key-scope-workflows')>(
    './support/key-scope-workflows',
  );
  const body = z.strictObject({ id: z.string().regex(/^[a-z0-9-]{1,64}$/), failSecond: z.boolean().optional() });
  const testSaga: SagaDefinition<z.infer<typeof body>, { id: string; scope: 'run'; failSecond?: boolean }> = {
    type: KEY_SCOPE_SAGA,
    workflow: keyScopeSaga as (input: unknown) => Promise<unknown>,
    idPrefix: 'keys',
    body,
    toInput: (b) => ({ id: b.id, scope: 'run', ...(b.failSecond ? { failSecond: true } : {}) }),
    workflowId: (input) => `keys-${input.id}`,
    workflowIdentity: 'business-key',
    digestRequest: (b) => ({ path: `/keys/${b.id}`, body: b }),
    echo: (input) => ({ id: input.id }),
    rejections: { REFUSED: { status: 409, description: 'the test activity refused the second step' } },
    summary: 'A test saga keyed by a business key',
    plan: [{ steps: ['first'] }, { steps: ['second'] }],
  };
  const SAGAS = [...actual.SAGAS, testSaga as unknown as SagaDefinition];
  return {
    ...actual,
    SAGAS,
    sagaByType: (type: string) => SAGAS.find((s) => s.type === type),
    sagaByWorkflowType: (w: string) => SAGAS.find((s) => s.workflow.name === w),
  };
});

let t: TemporalHarness;
let worker: Worker;
let running: Promise<void>;
let app: express.Express;
let auth: Record<string, string>;
// Imported once the mock is in place, so the API is built over the registry with the test saga in it.
let openApiDocument: () => Record<string, unknown>;
/** Every idempotency key the test activity was called with, in order. */
const calls: string[] = [];

beforeAll(async () => {
  t = await connectTemporal('sagaidentity');
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./support/key-scope-workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  worker = await Worker.create({
    connection: t.nativeConnection,
    taskQueue: t.taskQueue,
    workflowBundle: bundle,
    activities: {
      async echoKey(input: { idempotencyKey: string; fail?: boolean }) {
        calls.push(input.idempotencyKey);
        // slow enough that a second request arrives while the first run is open
        await new Promise((r) => setTimeout(r, 300));
        if (input.fail) throw ApplicationFailure.nonRetryable('the second step is refused', 'REFUSED');
        return { value: input.idempotencyKey, attempt: 1 };
      },
    },
  });
  running = worker.run();
  const support = await import('./support/api');
  app = support.createTestApi(t, { dbPrefix: 'unused_' }).app;
  auth = support.auth;
  ({ openApiDocument } = await import('../api/openapi'));
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await t?.close();
});

const start = (body: object, opts: { wait?: string; key?: string } = {}) => {
  const req = request(app)
    .post(`/sagas/${KEY_SCOPE_SAGA}${opts.wait ? `?wait=${opts.wait}` : ''}`)
    .set(auth);
  return (opts.key ? req.set('Idempotency-Key', opts.key) : req).send(body);
};
/** The runs (key scopes `<workflowId>.<runId>`) the activity saw for a workflow ID. */
const runsOf = (workflowId: string) => [
  ...new Set(calls.filter((k) => k.startsWith(`${workflowId}.`)).map((k) => k.split(':')[0])),
];

describe('a saga whose workflow ID is a business key', () => {
  test('when two requests for one business key arrive together, with or without Idempotency-Keys, then they join one run', async () => {
    const id = uniqueId('k').toLowerCase();
    const [a, b, c] = await Promise.all([
      start({ id }, { wait: 'true' }),
      start({ id }, { wait: 'true', key: uniqueId('key') }),
      start({ id }, { wait: 'true', key: uniqueId('key') }),
    ]);
    for (const res of [a, b, c])
      expect({ status: res.status, sagaId: res.body.sagaId, saga: res.body.status }).toEqual({
        status: 200,
        sagaId: `keys-${id}`,
        saga: 'COMPLETED',
      });
    expect(runsOf(`keys-${id}`)).toHaveLength(1);
  });

  test('when a request arrives after its run closed, then it starts a new run under the same ID, with keys of its own', async () => {
    const id = uniqueId('k').toLowerCase();
    expect((await start({ id }, { wait: 'true' })).status).toBe(200);
    const again = await start({ id }, { wait: 'true' });
    expect({ status: again.status, sagaId: again.body.sagaId, saga: again.body.status }).toEqual({
      status: 200,
      sagaId: `keys-${id}`,
      saga: 'COMPLETED',
    });
    const runs = runsOf(`keys-${id}`);
    expect(runs).toHaveLength(2);
    expect(calls.filter((k) => k.startsWith(`keys-${id}.`))).toEqual(
      runs.flatMap((r) => [`${r}:first`, `${r}:second`]),
    );
  });

  test('when a request arrives without waiting, then 202 starts the run and a second one joins it (202, same saga)', async () => {
    const id = uniqueId('k').toLowerCase();
    const first = await start({ id });
    const second = await start({ id, failSecond: false });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect([first.body.sagaId, second.body.sagaId]).toEqual([`keys-${id}`, `keys-${id}`]);
    expect(second.body.id).toBe(id);
  });
});

describe("a saga's business rejections", () => {
  test('when the saga compensated completely on a listed failure type and the request waited, then it is answered with the listed 4xx, naming the saga and step', async () => {
    const id = uniqueId('k').toLowerCase();
    const res = await start({ id, failSecond: true }, { wait: 'true' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'REFUSED',
      message: expect.stringContaining('refused'),
      details: { sagaId: `keys-${id}`, id, step: 'second', links: { self: `/sagas/keys-${id}` } },
    });
    const decided = await start({ id: uniqueId('k').toLowerCase(), failSecond: true }, { wait: 'decided' });
    expect({ status: decided.status, code: decided.body.error?.code }).toEqual({ status: 409, code: 'REFUSED' });
  });

  test('when the request did not wait, then it is the 202 of the saga, whose view shows the failure', async () => {
    const id = uniqueId('k').toLowerCase();
    const res = await start({ id, failSecond: true });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 1500));
    const view = await request(app).get(`/sagas/keys-${id}`).set(auth);
    expect(view.body).toMatchObject({ status: 'COMPENSATED', failure: { type: 'REFUSED', step: 'second' } });
  });

  test('when the OpenAPI document is built, then the start route lists the rejection under its status', () => {
    const doc = openApiDocument() as {
      paths: Record<string, { post: { responses: Record<string, { description: string }> } }>;
    };
    expect(doc.paths['/sagas/{type}']!.post.responses['409']!.description).toContain(
      'REFUSED, the test activity refused the second step',
    );
  });
});
