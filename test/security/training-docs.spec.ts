import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAB_REMOVALS, NOT_IN_LAB } from '../../apps/lab/src/removals.js';
import { CONTROL_IDS } from './support/controls.js';
import { EXERCISES } from './training/exercises.js';
import { renderTraining, SCENARIO_FILES, scenarioOf } from './training/render.js';

/**
 * docs/training/ is generated (test/security/training/render.ts): the committed files must equal
 * the output, so an exercise cannot drift from its kill-switch scenario or the catalog.
 * `npm run training:generate` (TRAINING_WRITE=1) rewrites them.
 */
const DIR = join(process.cwd(), 'docs', 'training');

describe('training lab catalog', () => {
  it('every control has a lab mode or a stated reason for having none, never both', () => {
    for (const id of CONTROL_IDS) expect([id, Boolean(LAB_REMOVALS[id]) !== Boolean(NOT_IN_LAB[id])]).toEqual([id, true]);
    expect(Object.keys({ ...LAB_REMOVALS, ...NOT_IN_LAB }).sort()).toEqual([...CONTROL_IDS].sort());
  });

  it('each lab mode removes the control exactly as one of its kill-switch scenarios does (same text, same seam)', () => {
    const removals = SCENARIO_FILES.flatMap((f) => f.scenarios).map((s) => `${s.control}: ${s.removal}`);
    for (const [id, removal] of Object.entries(LAB_REMOVALS)) expect(removals).toContain(`${id}: ${removal.removal}`);
  });

  it('each exercise follows a kill-switch scenario of a control with a lab mode, one exercise per control', () => {
    expect(EXERCISES.filter((e) => !LAB_REMOVALS[e.control]).map((e) => e.control)).toEqual([]);
    for (const exercise of EXERCISES) expect(() => scenarioOf(exercise)).not.toThrow();
    expect(new Set(EXERCISES.map((e) => e.control)).size).toBe(EXERCISES.length);
  });

  it('docs/training/ equals what test/security/training/render.ts generates', () => {
    const files = renderTraining();
    if (process.env.TRAINING_WRITE === '1') {
      mkdirSync(DIR, { recursive: true });
      for (const [name, text] of files) writeFileSync(join(DIR, name), text);
    }
    expect(readdirSync(DIR).filter((n) => n.endsWith('.md')).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(DIR, name), 'utf8'), `docs/training/${name} is stale: npm run training:generate`).toBe(text);
  });
});
