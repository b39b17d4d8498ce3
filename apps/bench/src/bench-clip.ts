import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { imageFixturesDir } from '@vision/testing';

const run = promisify(execFile);

/** A 720p clip of a real photo with a moving square and sensor-like noise, at 2.8 Mbit/s, and its frames as JPEGs. */
export async function benchClip(dir: string, fps: number): Promise<string> {
  const out = join(dir, 'bench.h264');
  const graph = `[0:v][1:v]overlay=x='mod(t*304\\,1216)':y=300:shortest=1,noise=alls=10:allf=t,format=yuv420p`;
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-loop',
    '1',
    '-framerate',
    String(fps),
    '-i',
    join(imageFixturesDir(), 'coffee-1280x720.jpg'),
    '-f',
    'lavfi',
    '-i',
    `color=c=red:s=64x64:r=${fps}`,
    '-filter_complex',
    graph,
    '-t',
    '4',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-b:v',
    '3M',
    '-maxrate',
    '3M',
    '-bufsize',
    '3M',
    '-g',
    String(fps),
    '-x264-params',
    'aud=1',
    '-f',
    'h264',
    out,
  ]);
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    out,
    '-q:v',
    '5',
    '-f',
    'image2',
    join(dir, 'frame-%03d.jpg'),
  ]);
  return out;
}
