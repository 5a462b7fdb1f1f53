/** A logger for `bundleWorkflowCode` in the suites: errors only (webpack's progress would drown the test output). */
const noop = () => undefined;

export const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (m: string, meta?: unknown) => console.error(m, meta),
  log: noop,
};
