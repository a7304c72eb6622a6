// Retries `check` until it stops throwing, or fails with its last error after `timeout` ms:
// for what another connection, page or replica makes true a little later. Used by the
// client's tests and by tests/browser.

export async function eventually(check, what, { timeout = 10_000, every = 50 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: ${last?.message}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
