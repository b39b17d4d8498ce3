import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATEWAY_SETTINGS, settingNames } from '@vision/config';
import { sourceKinds } from '../src/sources/registry';

const doc = readFileSync(join(__dirname, '../../../docs/cameras.md'), 'utf8');

describe('docs/cameras.md', () => {
  it('lists every registered source kind in the sources table', () => {
    const table = doc.slice(doc.indexOf('## Sources'), doc.indexOf('## The cameras file'));
    for (const kind of sourceKinds.kinds)
      for (const form of kind.urlForms) expect(table, kind.kind).toContain(`| \`${form}`);
  });

  it("documents every one of the gateway's settings", () => {
    const table = doc.slice(doc.indexOf('## Configuration'));
    for (const name of settingNames(GATEWAY_SETTINGS)) expect(table, name).toContain(`\`${name}\``);
  });
});
