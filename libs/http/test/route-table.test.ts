import { describe, expect, it } from 'vitest';
import { HttpError, RouteTable } from '../src';

describe('RouteTable', () => {
  const table = new RouteTable<string>()
    .add('GET', '/v1/cameras/:id', 'camera')
    .add('PATCH', '/v1/cameras/:id', 'update')
    .add('GET', '/v1/cameras/:id/snapshot', 'snapshot')
    .add('GET', '/v1/events/cameras/:camera/rules/:rule', 'rule')
    .add('GET', '/v1/cameras/recent', 'recent');

  it('finds a route by method and path, with its parameters percent-decoded', () => {
    expect(table.match('GET', '/v1/cameras/lobby%20east/snapshot')).toEqual({
      kind: 'found',
      route: 'snapshot',
      params: { id: 'lobby east' },
      pattern: '/v1/cameras/:id/snapshot',
    });
    expect(table.match('GET', '/v1/events/cameras/cam-1/rules/gate/')).toMatchObject({
      route: 'rule',
      params: { camera: 'cam-1', rule: 'gate' },
    });
  });

  it('prefers a literal segment to a parameter, whatever the order routes were added in', () => {
    expect(table.match('GET', '/v1/cameras/recent')).toMatchObject({ route: 'recent', params: {} });
    expect(table.match('GET', '/v1/cameras/other')).toMatchObject({ route: 'camera', params: { id: 'other' } });
  });

  it('tells a path served under other methods (405) from no route (404)', () => {
    expect(table.match('DELETE', '/v1/cameras/x')).toEqual({ kind: 'method', allowed: ['GET', 'PATCH'] });
    expect(table.match('GET', '/v1/cameras/x/y/z')).toEqual({ kind: 'none' });
    expect(table.match('GET', '/')).toEqual({ kind: 'none' });
  });

  it('refuses a path that is not valid percent-encoding with E_BAD_REQUEST', () => {
    let thrown: unknown;
    try {
      table.match('GET', '/v1/cameras/%E0%A4%A');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HttpError);
    expect(thrown).toMatchObject({ code: 'E_BAD_REQUEST' });
  });

  it('refuses a malformed or repeated pattern when it is added', () => {
    const fresh = () => new RouteTable<number>().add('GET', '/v1/a/:id', 1);
    expect(() => fresh().add('GET', 'v1/a', 2)).toThrow(/must start with \//);
    expect(() => fresh().add('GET', '/v1/:x/:x', 2)).toThrow(/distinct names/);
    expect(() => fresh().add('GET', '/v1/a/:other', 2)).toThrow(/added twice/);
    expect(() => fresh().add('FETCH', '/v1/b', 2)).toThrow(/unknown method/);
    expect(
      fresh()
        .add('POST', '/v1/a/:id', 2)
        .routes.map((r) => r.method),
    ).toEqual(['GET', 'POST']);
  });
});
