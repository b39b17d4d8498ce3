import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A library's Lua scripts, each read once from `<dir>/<name>.lua`. `dir` is the library's `lua/`
 * folder, beside both its `src/` and `dist/`.
 */
export function luaScripts<Name extends string>(dir: string): (name: Name) => string {
  const cache = new Map<Name, string>();
  return (name) => {
    let text = cache.get(name);
    if (text === undefined) {
      text = readFileSync(join(dir, `${name}.lua`), 'utf8');
      cache.set(name, text);
    }
    return text;
  };
}

/** This library's scripts (`libs/transport/lua/`). */
export const luaScript = luaScripts<'submit' | 'release' | 'acquire-connection'>(join(__dirname, '..', 'lua'));
