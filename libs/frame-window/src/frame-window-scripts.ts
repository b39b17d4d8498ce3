import { join } from 'node:path';
import { defineScript } from '@vision/redis';

const dir = join(__dirname, '..', 'lua');

/** The frame window's Lua scripts (`libs/frame-window/lua/`), keys and arguments named once. */
export const frameWindowScripts = {
  put: defineScript(dir, {
    name: 'frame-window-put',
    keys: ['frames', 'order', 'cameras', 'bytes', 'total'],
    args: ['camera', 'field', 'image', 'now', 'windowMs', 'cameraBytes', 'totalBytes', 'cameraKeyPrefix'],
  }),
};

/** What `put` did with a frame. */
export type FrameWindowOutcome = 'kept' | 'repeat' | 'too_large' | 'full';
