import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Lua scripts, read once from `libs/transport/lua/` (beside both `src/` and `dist/`). */
export type LuaScript = 'submit' | 'release' | 'acquire-connection';

const cache = new Map<LuaScript, string>();

export function luaScript(name: LuaScript): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(__dirname, '..', 'lua', `${name}.lua`), 'utf8');
    cache.set(name, text);
  }
  return text;
}
