/**
 * The worker's workflows path, workflows/index.ts, against the saga registry: the worker runs what
 * that file exports (by workflow type), the API starts what the registry lists. No server needed.
 */
import * as workflows from '../workflows';
import { SAGAS } from '../sagas';

const exported = Object.fromEntries(Object.entries(workflows).filter(([name]) => name !== '__esModule'));

describe('workflows/index.ts', () => {
  test('when the registry is read, then every saga’s workflow is exported under its workflow type', () => {
    for (const saga of SAGAS)
      expect({ saga: saga.type, exported: exported[saga.workflow.name] === saga.workflow }).toEqual({
        saga: saga.type,
        exported: true,
      });
  });

  test('when its exports are read, then they are the registered workflows only: no default export, nothing else', () => {
    expect(Object.keys(exported).sort()).toEqual(SAGAS.map((s) => s.workflow.name).sort());
  });
});
