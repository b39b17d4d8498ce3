// The demo page: camera or video file → JPEG frames over the SDK → boxes on an overlay canvas;
// with `?events=<ws url of /ws/events>`, the camera's zones, lines, counts, track ids and events too.
import { VisionClient } from './vision-client.js';
import { describeEvent, drawEvents, followEvents } from './events-feed.js';

const $ = (id) => document.getElementById(id);
const video = $('video');
const overlay = $('overlay');
const capture = document.createElement('canvas');
const params = new URLSearchParams(location.search);
const token = params.get('token') || $('token').value || undefined;
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/detect`;

// The streamId frames carry: the camera the events service's rules name.
const camera = params.get('camera') || 'demo';

const client = new VisionClient({ url, token: () => $('token').value || token });
const demo = { client, results: 0, lastDetections: [], lastSize: null, feed: null };
window.demo = demo; // for the browser test and for poking around

let countdown;
client.on('state', ({ state, retryInMs }) => {
  clearInterval(countdown);
  const el = $('state');
  el.dataset.state = state;
  if (retryInMs === undefined) return (el.textContent = state);
  const until = Date.now() + retryInMs;
  const tick = () => (el.textContent = `reconnecting in ${Math.max(0, (until - Date.now()) / 1000).toFixed(1)} s`);
  tick();
  countdown = setInterval(tick, 100);
});

function colour(cls) {
  return `hsl(${(cls * 137) % 360} 90% 55%)`;
}

function draw(detections, width, height) {
  overlay.width = width;
  overlay.height = height;
  const ctx = overlay.getContext('2d');
  ctx.clearRect(0, 0, width, height);
  if (demo.feed) drawEvents(ctx, demo.feed, width, height);
  ctx.lineWidth = 3;
  ctx.font = '14px system-ui, sans-serif';
  for (const d of detections) {
    ctx.strokeStyle = ctx.fillStyle = colour(d.class);
    ctx.strokeRect(d.xmin, d.ymin, d.xmax - d.xmin, d.ymax - d.ymin);
    ctx.fillText(`${d.name} ${(d.confidence * 100).toFixed(0)}%`, d.xmin + 2, Math.max(14, d.ymin - 4));
  }
}

async function sendFrame() {
  if (video.readyState < 2 || !video.videoWidth) return;
  const w = video.videoWidth;
  const h = video.videoHeight;
  capture.width = w;
  capture.height = h;
  capture.getContext('2d').drawImage(video, 0, 0, w, h);
  const blob = await new Promise((r) => capture.toBlob(r, 'image/jpeg', Number($('quality').value)));
  const outcome = await client.send(blob, { streamId: camera, captureTs: Date.now() });
  if (outcome.status !== 'result') return;
  demo.results++;
  demo.lastDetections = outcome.result.detections;
  demo.lastSize = { width: w, height: h };
  draw(outcome.result.detections, w, h);
}

let timer;
function startSending() {
  clearInterval(timer);
  timer = setInterval(sendFrame, 1000 / Number($('fps').value));
}

$('fps').addEventListener('change', startSending);
$('camera').addEventListener('click', async () => {
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  await video.play();
  startSending();
});
$('file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  video.srcObject = null;
  video.src = URL.createObjectURL(f);
  video.loop = true;
  await video.play();
  startSending();
});

setInterval(() => {
  const s = client.stats().find((x) => x.streamId === camera);
  if (!s) return;
  $('fps-sent').textContent = s.fpsSent.toFixed(1);
  $('rps').textContent = s.resultsPerSecond.toFixed(1);
  $('p50').textContent = Number.isFinite(s.p50Ms) ? s.p50Ms.toFixed(0) : '–';
  $('p95').textContent = Number.isFinite(s.p95Ms) ? s.p95Ms.toFixed(0) : '–';
  $('skipped').textContent = String(s.skipped);
  $('bytes').textContent = (s.bytesPerFrame / 1024).toFixed(0);
  $('batch').textContent = s.batchSize ?? '–';
}, 500);

function showFeed(feed) {
  $('events-state').textContent = feed.error ?? feed.state;
  $('events-state').dataset.state = feed.state;
  $('events-list').replaceChildren(
    ...feed.events.map((e) => Object.assign(document.createElement('li'), { textContent: describeEvent(e) })),
  );
  if (demo.lastSize) draw(demo.lastDetections, demo.lastSize.width, demo.lastSize.height);
}

if (params.get('events')) {
  $('events').hidden = false;
  demo.feed = followEvents({
    url: params.get('events'),
    camera,
    token: params.get('events_token') || token,
    onChange: showFeed,
  });
}

if (params.get('autostart') === 'camera') $('camera').click();
