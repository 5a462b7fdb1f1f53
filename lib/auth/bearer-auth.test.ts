import express from 'express';
import request from 'supertest';
import { bearerAuth, bearerToken } from './bearer-auth';
import { errorHandler } from '../http/http';
import { createLogger } from '../logger';

const TOKEN = 'the-right-token-0123456789';

function app() {
  const a = express();
  a.use(bearerAuth(TOKEN, 'API_TOKEN'));
  a.get('/x', (_req, res) => {
    res.json({ ok: true });
  });
  a.use(errorHandler(createLogger('test', 'silent')));
  return a;
}

describe('bearerAuth (the API, the gateway and fault injection)', () => {
  test('when the right token is sent, then the request goes through', async () => {
    expect((await request(app()).get('/x').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await request(app()).get('/x').set('Authorization', `bearer  ${TOKEN} `)).status).toBe(200);
  });

  test.each([
    ['no header', undefined],
    ['an empty bearer', 'Bearer '],
    ['the token without the scheme', TOKEN],
    ['Basic', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`],
    ['one character short', `Bearer ${TOKEN.slice(0, -1)}`],
    ['a suffix', `Bearer ${TOKEN}x`],
    ['upper case', `Bearer ${TOKEN.toUpperCase()}`],
    ['the token twice', `Bearer ${TOKEN} ${TOKEN}`],
  ])(
    'when %s, then 401 UNAUTHORIZED naming the setting (not its value) and WWW-Authenticate: Bearer',
    async (_what, header) => {
      const req = request(app()).get('/x');
      const res = header === undefined ? await req : await req.set('Authorization', header);
      expect({ status: res.status, code: res.body.error?.code, challenge: res.headers['www-authenticate'] }).toEqual({
        status: 401,
        code: 'UNAUTHORIZED',
        challenge: 'Bearer',
      });
      expect(res.body.error.message).toBe('Send Authorization: Bearer <API_TOKEN>');
    },
  );

  test('when a header is read, then only a Bearer scheme with one token yields it', () => {
    expect([
      bearerToken('Bearer abc'),
      bearerToken('bearer   abc  '),
      bearerToken('Basic abc'),
      bearerToken(undefined),
      bearerToken('Bearer'),
    ]).toEqual(['abc', 'abc', undefined, undefined, undefined]);
  });
});
