import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, signWebhook, verifyWebhook } from '../src';

describe('webhooks', () => {
  it('signs the timestamp and body; a changed body, another key or an old timestamp fails', () => {
    const secret = 's'.repeat(32);
    const header = signWebhook(secret, '{"a":1}', 1_000_000);
    expect(verifyWebhook(secret, '{"a":1}', header, 300, 1_000_100)).toBe(true);
    expect(verifyWebhook(secret, '{"a":2}', header, 300, 1_000_100)).toBe(false);
    expect(verifyWebhook('t'.repeat(32), '{"a":1}', header, 300, 1_000_100)).toBe(false);
    expect(verifyWebhook(secret, '{"a":1}', header, 300, 1_000_400)).toBe(false);
    expect(verifyWebhook(secret, '{"a":1}', 'garbage')).toBe(false);
  });

  it('signs with each secret during a rotation, so a receiver that knows either one verifies', () => {
    const [current, previous] = ['n'.repeat(32), 'o'.repeat(32)];
    const header = signWebhook([current, previous], '{"a":1}', 1_000_000);
    expect(header.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    expect(verifyWebhook(current, '{"a":1}', header, 300, 1_000_100)).toBe(true);
    expect(verifyWebhook(previous, '{"a":1}', header, 300, 1_000_100)).toBe(true);
    expect(verifyWebhook('t'.repeat(32), '{"a":1}', header, 300, 1_000_100)).toBe(false);
    expect(verifyWebhook(previous, '{"a":2}', header, 300, 1_000_100)).toBe(false);
  });

  it('takes public http(s) hosts, and refuses in-site addresses unless listed', () => {
    const open = { hosts: [], setting: 'BULK_WEBHOOK_HOSTS' };
    const only = (...hosts: string[]) => ({ hosts, setting: 'BULK_WEBHOOK_HOSTS' });
    expect(checkWebhookUrl('https://ops.example.com/hook', open)).toBe('https://ops.example.com/hook');
    for (const bad of [
      'http://127.0.0.1/x',
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/',
      'http://[::1]/',
      'http://localhost:8080/',
      'http://192.168.1.5/',
      'http://localhost.:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://2130706433/',
    ]) {
      expect(() => checkWebhookUrl(bad, open), bad).toThrow(/inside the site/);
    }
    expect(() => checkWebhookUrl('ftp://example.com/', open)).toThrow(/http/);
    expect(() => checkWebhookUrl('not a url', open)).toThrow(/not a URL/);
    expect(checkWebhookUrl('http://127.0.0.1:9000/h', only('127.0.0.1'))).toBe('http://127.0.0.1:9000/h');
    expect(checkWebhookUrl('https://a.hooks.example.com/', only('*.example.com'))).toBe('https://a.hooks.example.com/');
    expect(() => checkWebhookUrl('https://example.org/', only('*.example.com'))).toThrow(
      /example.org is not in BULK_WEBHOOK_HOSTS/,
    );
  });
});
