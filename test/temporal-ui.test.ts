import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { chromium, type Browser } from 'playwright-core';
import { startServices, type ServiceStack } from './support/services';
import { connectTemporal, startWorker, type RunningWorker, type TemporalHarness } from './support/temporal';
import { DECLINED_CARD, GOOD_CARD, putProduct } from './support/fixtures';
import { auth, createTestApi, orderBody } from './support/api';
import { findCardNumbers } from './support/card-numbers';
import { withPngText } from './support/png-text';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = path.resolve(__dirname, '../test-output');
/** docs/operations.md shows this file: each run writes it from the current code, after checking the page. */
const DOCS_SCREENSHOT = 'docs/temporal-ui-place-order.png';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;
let browser: Browser;

beforeAll(async () => {
  stack = await startServices('ui');
  t = await connectTemporal('ui');
  worker = await startWorker(t, stack);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

test('when a saga started over REST is opened through its temporalUi link, then the Web UI shows the workflow and its activity names', async () => {
  const { app } = createTestApi(t, { dbPrefix: stack.prefix });
  const sku = await putProduct(stack, { available: 5, name: 'Screenshot Lamp' });
  const started = await request(app).post('/orders').query({ wait: 'true' }).set(auth).send(orderBody(sku));
  expect(started.status).toBe(200);
  expect(started.body.status).toBe('COMPLETED');
  const link: string = started.body.links.temporalUi;
  expect(link.startsWith(process.env.TEST_TEMPORAL_UI_URL!)).toBe(true);

  const page = await browser.newPage({ viewport: { width: 1440, height: 1300 } });
  await page.goto(link, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  // The workflow page: its ID, its type, and the activities in the event history.
  await page.getByText(started.body.sagaId).first().waitFor({ timeout: 60_000 });
  for (const activity of [
    'createOrder',
    'reserveStock',
    'chargePayment',
    'scheduleShipment',
    'confirmOrder',
    'commitStock',
  ]) {
    await page.getByText(activity, { exact: false }).first().waitFor({ timeout: 30_000 });
  }
  const text = await page.locator('body').innerText();
  expect(text).toContain('placeOrder');
  expect(text).toContain('chargePayment');
  // The page shows the saga's input (its sealed card token and last four digits), and no full card
  // number anywhere: neither in what it shows nor in its DOM (attributes, hidden nodes, scripts).
  const dom = await page.content();
  expect(text).toContain('cardToken');
  const cards = [
    ...findCardNumbers(text, [GOOD_CARD, DECLINED_CARD]),
    ...findCardNumbers(dom, [GOOD_CARD, DECLINED_CARD]),
  ];
  expect(cards).toEqual([]);
  mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, 'temporal-ui-place-order.png');
  await page.screenshot({ path: file, fullPage: false });
  await page.close();
  // Stamped with where it came from and what was checked in it (test/docs.test.ts requires both of
  // every committed image), then moved into place in one step: the docs test may be reading it.
  const stamped = withPngText(readFileSync(file), {
    Source: 'test/temporal-ui.test.ts',
    Checked: `no full card number (the order's test card, ending ${GOOD_CARD.slice(-4)}, or any Luhn-valid 12-19 digit run) in the page's text (${text.length} characters) or DOM (${dom.length} characters), which show the sealed cardToken`,
  });
  const docs = path.resolve(__dirname, '..', DOCS_SCREENSHOT);
  const tmp = `${docs}.${process.pid}.tmp`;
  writeFileSync(tmp, stamped);
  renameSync(tmp, docs);
}, 180_000);
