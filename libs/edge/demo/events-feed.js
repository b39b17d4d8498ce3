// The demo's site-events layer: follows the events service's /ws/events feed (docs/events.md) for
// one camera and keeps what the page draws: the camera's zones and lines, their counts, the
// confirmed tracks of the latest frame and the latest events. The feed is a separate service (it
// needs Redis), so the page only opens it when `?events=<ws url>` names it.

const MAX_EVENTS = 20;
const RETRY_MS = 2000;

/**
 * `url`: the feed (ws:// or wss://…/ws/events); `camera`: the streamId the page sends as;
 * `token`: a JWT with `events:read`, sent as the `bearer.<token>` subprotocol (browsers cannot set
 * headers); `onChange`: called whenever something drawable changed.
 */
export function followEvents({ url, camera, token, onChange }) {
  const feed = { state: 'connecting', rules: [], counts: {}, tracks: null, events: [], error: null };
  let ws;

  const open = () => {
    const target = new URL(url);
    target.searchParams.set('cameras', camera);
    ws = new WebSocket(target, token ? ['events.v1', `bearer.${token}`] : ['events.v1']);
    ws.onopen = () => set({ state: 'open', error: null });
    ws.onmessage = (m) => receive(JSON.parse(m.data));
    ws.onclose = (e) => {
      set({ state: 'closed', error: e.code === 1000 ? null : `closed ${e.code}${e.reason ? ` (${e.reason})` : ''}` });
      setTimeout(open, RETRY_MS);
    };
  };

  function set(patch) {
    Object.assign(feed, patch);
    onChange(feed);
  }

  function receive(msg) {
    if (msg.type === 'hello' || msg.type === 'rules') {
      const mine = msg.cameras.find((c) => c.camera === camera);
      return set({ rules: mine?.rules ?? [], counts: mine?.counts ?? {} });
    }
    if (msg.type === 'tracks' && msg.camera === camera) return set({ tracks: msg });
    if (msg.type === 'event' && msg.event.camera === camera) {
      const e = msg.event;
      const counts = e.kind === 'count' && e.counts ? { ...feed.counts, [e.rule]: e.counts } : feed.counts;
      return set({ counts, events: [e, ...feed.events].slice(0, MAX_EVENTS) });
    }
  }

  open();
  return feed;
}

/** A rule's points in the overlay's pixels (`norm` rules are fractions of the image). */
function points(rule, width, height) {
  const pts = rule.draw.points;
  return rule.units === 'norm' ? pts.map(([x, y]) => [x * width, y * height]) : pts;
}

/** The rule's id and, once known, its counts as its type's label says (`{total}`, `in {in} out {out}`). */
function countLabel(rule, c) {
  if (!c) return rule.id;
  return `${rule.id} ${rule.draw.label.replace(/\{(\w+)\}/g, (_, name) => c[name] ?? '?')}`;
}

/**
 * Draws the feed's rules (each as its type's `draw` hints say: zones outlined, lines dashed) and the
 * latest tracks' ids onto `ctx`, scaled from the image the events service saw to the overlay's size.
 */
export function drawEvents(ctx, feed, width, height) {
  ctx.save();
  ctx.lineWidth = 2;
  ctx.font = '13px system-ui, sans-serif';
  for (const rule of feed.rules) {
    const pts = points(rule, width, height);
    ctx.strokeStyle = ctx.fillStyle = rule.draw.colour;
    ctx.setLineDash(rule.draw.dash);
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (rule.draw.closed) ctx.closePath();
    ctx.stroke();
    ctx.fillText(countLabel(rule, feed.counts[rule.id]), pts[0][0] + 4, pts[0][1] + 14);
  }
  const t = feed.tracks;
  if (t) {
    const sx = width / t.w;
    const sy = height / t.h;
    ctx.fillStyle = '#fff';
    for (const [id, cls, x1, , , y2] of t.tracks) ctx.fillText(`#${id} ${cls}`, x1 * sx + 2, y2 * sy + 14);
  }
  ctx.restore();
}

export function describeEvent(e) {
  const who = e.track === undefined ? '' : ` #${e.track} ${e.class ?? ''}`;
  const extra = e.direction ? ` ${e.direction}` : e.dwellMs !== undefined ? ` ${(e.dwellMs / 1000).toFixed(0)} s` : '';
  return `${new Date(e.ts).toLocaleTimeString()} ${e.kind} ${e.rule}${who}${extra}`;
}
