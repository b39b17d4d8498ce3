import { useEffect, useRef, useState } from 'preact/hooks';
import { snapshotUrl } from './api';
import { usePoll } from './use-poll';

/** A ref to an element, as `useRef` makes it. */
type ElementRef = { readonly current: Element | null };

/** A camera's picture is its newest snapshot, refreshed about once a second. */
const REFRESH_MS = 1000;
/** A tile this close to the viewport counts as in view: its picture is fresh as it scrolls in. */
const IN_VIEW_MARGIN = '200px';

/**
 * The newest frame of `camera`, kept fresh; each replaced frame's object URL is revoked. With
 * `shownIn` (a wall's tile), the first picture is fetched at once and later ones only while that
 * element is near the viewport and the page is visible: a wall of many cameras refreshes what the
 * operator sees, not what is scrolled away or in a hidden tab.
 */
export function useSnapshot(token: string, camera: string, shownIn?: ElementRef): string | undefined {
  const [url, setUrl] = useState<string | undefined>();
  const current = useRef<string | undefined>(undefined);
  const inView = useInView(shownIn);
  usePoll(
    async () => {
      if (current.current && (!inView.current || document.hidden)) return;
      const next = await snapshotUrl(token, camera);
      if (!next) return;
      const previous = current.current;
      current.current = next;
      setUrl(next);
      if (previous) setTimeout(() => URL.revokeObjectURL(previous), REFRESH_MS);
    },
    REFRESH_MS,
    [token, camera],
  );
  return url;
}

/** Whether `element` is near the viewport, as a ref the poll reads (always true without an element). */
function useInView(element: ElementRef | undefined): { current: boolean } {
  const inView = useRef(true);
  useEffect(() => {
    const target = element?.current;
    if (!target) return;
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) inView.current = entry.isIntersecting;
      },
      { rootMargin: IN_VIEW_MARGIN },
    );
    observer.observe(target);
    return () => observer.disconnect();
  }, [element]);
  return inView;
}
