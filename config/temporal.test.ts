import { z } from 'zod';
import { parseConfigWithTemporal } from './temporal';
import { loadApiConfig } from './api';
import { loadReplayConfig } from './replay';
import { loadWorkerConfig } from './worker';

// A config file the tests never mean to read (TEMPORAL_CONFIG_FILE pointing nowhere is an error).
const base = { TEMPORAL_CONFIG_FILE: undefined, TEMPORAL_PROFILE: undefined };
const own = z.object({ PORT: z.coerce.number().int().min(1) });

describe('the Temporal connection every program reads', () => {
  test('when nothing is set, then the local dev server and the default namespace', () => {
    expect(parseConfigWithTemporal(own, { ...base, PORT: '1' }, 'p').temporal).toEqual({
      connection: { address: 'localhost:7233' },
      namespace: 'default',
    });
  });

  test('when the standard variables are set, then the connection has them (an API key turns TLS on)', () => {
    const c = parseConfigWithTemporal(
      own,
      {
        ...base,
        PORT: '1',
        TEMPORAL_ADDRESS: 'temporal.example:7233',
        TEMPORAL_NAMESPACE: 'sagas',
        TEMPORAL_API_KEY: 'k-123',
      },
      'p',
    );
    expect(c).toEqual({
      PORT: 1,
      temporal: { connection: { address: 'temporal.example:7233', apiKey: 'k-123', tls: true }, namespace: 'sagas' },
    });
  });

  test("when the program's own settings and the connection are both wrong, then one error lists every bad key", () => {
    expect(() =>
      parseConfigWithTemporal(own, { ...base, PORT: '0', TEMPORAL_ADDRESS: 'no port here' }, 'worker'),
    ).toThrow(
      'Invalid configuration for worker:\n  - PORT: Too small: expected number to be >=1\n  - TEMPORAL_ADDRESS: host:port, e.g. localhost:7233',
    );
  });

  test('when the worker, the API and the replay script read one environment, then they connect to the same place', () => {
    const env = {
      ...base,
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: 'sagas',
      API_TOKEN: 'an-api-token-of-16+',
      SERVICE_TOKEN: 'a-service-token-16+',
      CARD_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    };
    const expected = { connection: { address: 'temporal.example:7233' }, namespace: 'sagas' };
    expect([loadWorkerConfig(env).temporal, loadApiConfig(env).temporal, loadReplayConfig(env).temporal]).toEqual([
      expected,
      expected,
      expected,
    ]);
  });
});
