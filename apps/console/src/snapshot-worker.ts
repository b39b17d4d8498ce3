/**
 * The wall's pictures, fetched, decoded and drawn off the page's main thread: each tile hands its
 * canvas over (`transferControlToOffscreen`) and this worker keeps it fresh. The main thread then
 * does no work per snapshot (no fetch callbacks, object URLs, image loads or repaints of the page),
 * so 64 cameras a second leave it free for the operator's clicks.
 */
import {
  PICTURE_REFRESH_MS,
  PICTURE_REPORT_MS,
  type FromPictures,
  type PictureCount,
  type ToPictures,
} from './picture-messages';

interface Watched {
  canvas: OffscreenCanvas;
  context: ImageBitmapRenderingContext;
  timer: ReturnType<typeof setTimeout> | undefined;
  stopped: boolean;
  shown: PictureCount;
}

const watched = new Map<string, Watched>();
let token = '';
/** Cameras with a new picture since the last report. */
const changed = new Set<string>();

const post = (message: FromPictures) =>
  (self as unknown as { postMessage(m: FromPictures): void }).postMessage(message);

async function refresh(camera: string, entry: Watched): Promise<void> {
  try {
    const res = await fetch(`/v1/cameras/${encodeURIComponent(camera)}/snapshot`, {
      headers: { authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
    // A camera without a picture yet, or a refusal: the tile stays as it was and asks again.
    if (!res.ok) return void (await res.arrayBuffer().catch(() => undefined));
    const bitmap = await createImageBitmap(await res.blob());
    if (entry.stopped) return bitmap.close();
    const { width, height } = bitmap;
    entry.canvas.width = width;
    entry.canvas.height = height;
    // The bitmap is handed over (no copy) and detached: its size is read before.
    entry.context.transferFromImageBitmap(bitmap);
    entry.shown = { frames: entry.shown.frames + 1, width, height };
    changed.add(camera);
  } catch {
    // A network error or an undecodable answer: asked again on the next round.
  }
}

function poll(camera: string, entry: Watched): void {
  void refresh(camera, entry).then(() => {
    if (!entry.stopped) entry.timer = setTimeout(() => poll(camera, entry), PICTURE_REFRESH_MS);
  });
}

self.onmessage = (event: MessageEvent<ToPictures>) => {
  const message = event.data;
  if (message.type === 'token') token = message.token;
  else if (message.type === 'watch') {
    const context = message.canvas.getContext('bitmaprenderer');
    if (!context) return;
    const entry: Watched = {
      canvas: message.canvas,
      context,
      timer: undefined,
      stopped: false,
      shown: { frames: 0, width: 0, height: 0 },
    };
    stop(message.camera);
    watched.set(message.camera, entry);
    poll(message.camera, entry);
  } else stop(message.camera);
};

function stop(camera: string): void {
  const entry = watched.get(camera);
  if (!entry) return;
  entry.stopped = true;
  clearTimeout(entry.timer);
  watched.delete(camera);
  changed.delete(camera);
}

// What the page learns of the pictures: once a period, only the cameras whose picture changed.
setInterval(() => {
  if (changed.size === 0) return;
  const shown: Record<string, PictureCount> = {};
  for (const camera of changed) {
    const entry = watched.get(camera);
    if (entry) shown[camera] = entry.shown;
  }
  changed.clear();
  post({ type: 'shown', shown });
}, PICTURE_REPORT_MS);
