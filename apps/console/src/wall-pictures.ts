import type { FromPictures, ToPictures } from './picture-messages';

/**
 * The page's side of the wall's picture worker: tiles hand it their canvas, and it marks each
 * canvas with what it shows (`data-frames`, `data-width`, `data-height`) once a report arrives.
 */
export class WallPictures {
  private static made = 0;
  /** Tells one worker from the next (a canvas belongs to the worker it was handed to). */
  readonly id = ++WallPictures.made;
  private readonly worker = new Worker(new URL('snapshot-worker.js', import.meta.url), { type: 'module' });
  private readonly canvases = new Map<string, HTMLCanvasElement>();

  constructor(token: string) {
    this.send({ type: 'token', token });
    this.worker.onmessage = (event: MessageEvent<FromPictures>) => {
      for (const [camera, count] of Object.entries(event.data.shown)) {
        const canvas = this.canvases.get(camera);
        if (!canvas) continue;
        canvas.dataset['frames'] = String(count.frames);
        canvas.dataset['width'] = String(count.width);
        canvas.dataset['height'] = String(count.height);
      }
    };
  }

  /** Draws `camera`'s snapshots on `canvas` from now on; a canvas can be handed over once only. */
  watch(camera: string, canvas: HTMLCanvasElement): void {
    this.canvases.set(camera, canvas);
    const offscreen = canvas.transferControlToOffscreen();
    this.send({ type: 'watch', camera, canvas: offscreen }, [offscreen]);
  }

  unwatch(camera: string): void {
    this.canvases.delete(camera);
    this.send({ type: 'unwatch', camera });
  }

  close(): void {
    this.worker.terminate();
    this.canvases.clear();
  }

  private send(message: ToPictures, transfer: Transferable[] = []): void {
    this.worker.postMessage(message, transfer);
  }
}
