/**
 * The reservation lifecycle table on its own (no database): which action does what from which
 * status, and that every move keeps the stock ledger. The routes that follow it are tested against
 * MySQL in inventory.test.ts.
 */
import { InventoryErrors } from './contract';
import { LIFECYCLE, type Counter, type ReservationAction, type ReservationStatus, type Step } from './reservations';

const STATUSES: ReservationStatus[] = ['PENDING', 'HELD', 'RELEASED', 'COMMITTED', 'RETURNED'];
const ACTIONS: ReservationAction[] = ['reserve', 'release', 'commit', 'return'];

/**
 * Where a reservation's units sit in each status: the auditor's ledger (`reserved` is the sum of
 * the HELD lines, `committed` of the COMMITTED ones); any other reservation holds nothing.
 */
const UNITS_IN: Record<ReservationStatus, Counter> = {
  PENDING: 'available',
  HELD: 'reserved',
  RELEASED: 'available',
  COMMITTED: 'committed',
  RETURNED: 'available',
};

/** One word per cell: the status it moves to, `stay`, or the refusal's HTTP status and code. */
function outcome(step: Step): string {
  if (step.kind === 'move') return step.to;
  if (step.kind === 'stay') return 'stay';
  return `${step.status} ${step.code}`;
}

const NOT_FOUND = `404 ${InventoryErrors.RESERVATION_NOT_FOUND}`;
const ILLEGAL = `409 ${InventoryErrors.ILLEGAL_TRANSITION}`;

describe('the reservation lifecycle', () => {
  it.each<[ReservationAction, Record<ReservationStatus, string>]>([
    [
      'reserve',
      {
        PENDING: 'HELD',
        HELD: 'stay',
        RELEASED: `409 ${InventoryErrors.RESERVATION_RELEASED}`,
        COMMITTED: 'stay',
        RETURNED: 'stay',
      },
    ],
    ['release', { PENDING: 'RELEASED', HELD: 'RELEASED', RELEASED: 'stay', COMMITTED: ILLEGAL, RETURNED: 'stay' }],
    ['commit', { PENDING: NOT_FOUND, HELD: 'COMMITTED', RELEASED: ILLEGAL, COMMITTED: 'stay', RETURNED: 'stay' }],
    ['return', { PENDING: NOT_FOUND, HELD: 'RETURNED', RELEASED: ILLEGAL, COMMITTED: 'RETURNED', RETURNED: 'stay' }],
  ])('when a reservation is asked to %s, then each status answers as the table says', (action, expected) => {
    const actual = Object.fromEntries(STATUSES.map((s) => [s, outcome(LIFECYCLE[action][s])]));
    expect(actual).toEqual(expected);
  });

  const moves = ACTIONS.flatMap((action) =>
    STATUSES.flatMap((from) => {
      const step = LIFECYCLE[action][from];
      return step.kind === 'move' ? [{ action, from, step }] : [];
    }),
  );

  it.each(moves.map((m) => [m.action, m.from, m.step.to, m.step] as const))(
    'when %s moves a reservation from %s to %s, then its units go from where the old status keeps them to where the new one does',
    (_action, from, to, step) => {
      const want = UNITS_IN[from] === UNITS_IN[to] ? undefined : { from: UNITS_IN[from], to: UNITS_IN[to] };
      expect(step.units).toEqual(want);
    },
  );

  it('when a reservation moves, then an event records it, except for the tombstone a release leaves before its reservation', () => {
    const silent = moves.filter((m) => m.step.event === undefined);
    expect(silent.map((m) => [m.action, m.from, m.step.tombstone])).toEqual([['release', 'PENDING', true]]);
    expect(moves.filter((m) => m.step.tombstone).length).toBe(1);
    expect(
      Object.fromEntries(moves.filter((m) => m.step.event).map((m) => [`${m.action} ${m.from}`, m.step.event])),
    ).toEqual({
      'reserve PENDING': 'StockReserved',
      'release HELD': 'StockReleased',
      'commit HELD': 'StockCommitted',
      'return HELD': 'StockReturned',
      'return COMMITTED': 'StockReturned',
    });
  });

  it('when an action is refused, then its message names the order', () => {
    for (const action of ACTIONS) {
      for (const status of STATUSES) {
        const step = LIFECYCLE[action][status];
        if (step.kind === 'refuse') expect(step.message('order-42')).toContain('order-42');
      }
    }
  });
});
