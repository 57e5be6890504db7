/**
 * The prerequisite gate every end-to-end test goes through: a skip with the reason on a developer
 * machine, a failure under CI=true (CI must never turn green by skipping).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { missingPrerequisites, suitePrerequisites } from '../helpers/prereq.js';

const ABSENT = { binaries: ['lbctl-no-such-binary'], files: ['/nonexistent/lbctl-no-such-file'] };
const PRESENT = { binaries: ['sh'], files: ['/'] };

describe('prerequisites', () => {
  let ci: string | undefined;
  beforeEach(() => {
    ci = process.env.CI;
  });
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('lists each missing binary and file, and nothing when all are there', () => {
    assert.equal(missingPrerequisites(ABSENT).length, 2);
    assert.deepEqual(missingPrerequisites(PRESENT), []);
  });

  it('skips a suite on a developer machine: the reason names what is missing', () => {
    delete process.env.CI;
    const { skip } = suitePrerequisites(ABSENT);
    assert.equal(typeof skip, 'string');
    assert.ok(String(skip).includes('lbctl-no-such-binary'));
  });

  it('never skips under CI=true: the before hook fails instead', () => {
    process.env.CI = 'true';
    const gate = suitePrerequisites(ABSENT);
    assert.equal(gate.skip, false);
    assert.throws(() => gate.assertPrerequisites(), Error);
  });

  it('runs a suite whose prerequisites are all there, under CI or not', () => {
    for (const value of ['true', undefined]) {
      if (value === undefined) delete process.env.CI;
      else process.env.CI = value;
      const gate = suitePrerequisites(PRESENT);
      assert.equal(gate.skip, false);
      gate.assertPrerequisites();
    }
  });
});
