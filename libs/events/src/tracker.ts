import type { TrackerConfig } from '@vision/config';
import { assign } from './assignment';
import { bufferedIou, type Box } from './geometry';
import { kalmanBox, kalmanFreezeSize, kalmanInit, kalmanPredict, kalmanUpdate, type KalmanState } from './kalman';

/** How much a box is widened for matching per second since its track was last seen (share of the box). */
const BUFFER_PER_S = 1;
/** The widest a box is made for matching, however long its track went unseen. */
const MAX_BUFFER = 1;

export interface TrackDet {
  box: Box;
  score: number;
  cls: number;
}

/** tentative -> confirmed -> lost -> (confirmed again, or removed); tentative tracks that miss a frame are removed. */
export type TrackPhase = 'tentative' | 'confirmed' | 'lost';

export interface Track {
  /** Stable per camera, never reused. */
  id: number;
  cls: number;
  phase: TrackPhase;
  kf: KalmanState;
  /** Matched frames in a row while tentative; all matched frames after. */
  hits: number;
  /** Capture time of the last matched frame. */
  lastTs: number;
  score: number;
}

/** JSON-safe state, checkpointed so that a new owner resumes with the same ids. */
export interface TrackerSnapshot {
  nextId: number;
  tracks: Track[];
}

export interface TrackerStep {
  /** Tracks matched in this frame (any phase), with their filtered boxes. */
  observed: { track: Track; box: Box }[];
  /** Tracks confirmed in this frame. */
  confirmed: Track[];
  removed: Track[];
  /** High-score boxes that could not start a track (EVENTS_MAX_TRACKS reached). */
  overflow: number;
}

/**
 * ByteTrack's association (Zhang et al., 2022): high-score boxes are matched to confirmed and lost
 * tracks first; the low tier (TRACK_LOW_THRESHOLD up to the model's CONF_THRESHOLD) then recovers
 * tracks left unmatched, which is what keeps an occluded object's id; tentative tracks
 * take what high boxes remain. Boxes only match tracks of their own class. Only high boxes start
 * tracks, so a low box is never counted unless it continues a track.
 */
export class ByteTracker {
  private nextId: number;
  private tracks: Track[];

  constructor(
    private readonly cfg: TrackerConfig,
    snapshot?: TrackerSnapshot,
  ) {
    this.nextId = snapshot?.nextId ?? 1;
    this.tracks = snapshot?.tracks.map((t) => ({ ...t, kf: { x: [...t.kf.x], p: [...t.kf.p], t: t.kf.t } })) ?? [];
  }

  get size(): number {
    return this.tracks.length;
  }

  snapshot(): TrackerSnapshot {
    return { nextId: this.nextId, tracks: this.tracks };
  }

  /** One frame at capture time `ts`; `conf` splits `dets` into the high tier and the low one. */
  update(ts: number, dets: readonly TrackDet[], conf: number): TrackerStep {
    const step: TrackerStep = { observed: [], confirmed: [], removed: [], overflow: 0 };
    for (const t of this.tracks) t.kf = kalmanPredict(t.kf, ts);
    const boxes = new Map(this.tracks.map((t) => [t, kalmanBox(t.kf)]));
    const high = dets.filter((d) => d.score >= conf);
    const low = dets.filter((d) => d.score < conf);
    // The matching space grows with the time since a track was last seen (BUFFER_PER_S of the box
    // per second): a 30 fps frame barely changes IoU, a 2 fps one can still match a walking person.
    const cost = (ts2: Track[], ds: readonly TrackDet[]) => (r: number, c: number) =>
      ts2[r].cls === ds[c].cls
        ? 1 -
          bufferedIou(boxes.get(ts2[r])!, ds[c].box, Math.min(MAX_BUFFER, (BUFFER_PER_S * (ts - ts2[r].lastTs)) / 1000))
        : Infinity;
    const matched = new Set<Track>();
    const match = (t: Track, d: TrackDet) => {
      t.kf = kalmanUpdate(t.kf, d.box);
      t.lastTs = ts;
      t.score = d.score;
      t.hits++;
      if (t.phase === 'lost') t.phase = 'confirmed';
      else if (t.phase === 'tentative' && t.hits >= this.cfg.confirmHits) {
        t.phase = 'confirmed';
        step.confirmed.push(t);
      }
      matched.add(t);
      step.observed.push({ track: t, box: kalmanBox(t.kf) });
    };

    // 1. High boxes against confirmed and lost tracks.
    const pool = this.tracks.filter((t) => t.phase !== 'tentative');
    const s1 = assign(pool.length, high.length, cost(pool, high), 1 - this.cfg.matchIou);
    for (const [r, c] of s1.pairs) match(pool[r], high[c]);
    // 2. The low tier against the tracks still unmatched, lost ones included (unlike ByteTrack):
    //    an object coming out from behind a pillar is half hidden, and scores low, first.
    const rest = s1.freeRows.map((r) => pool[r]);
    const s2 = assign(rest.length, low.length, cost(rest, low), 1 - this.cfg.lowMatchIou);
    for (const [r, c] of s2.pairs) match(rest[r], low[c]);
    // 3. Remaining high boxes against tentative tracks.
    const highLeft = s1.freeCols.map((c) => high[c]);
    const tentative = this.tracks.filter((t) => t.phase === 'tentative');
    const s3 = assign(tentative.length, highLeft.length, cost(tentative, highLeft), 1 - this.cfg.matchIou);
    for (const [r, c] of s3.pairs) match(tentative[r], highLeft[c]);

    const kept: Track[] = [];
    for (const t of this.tracks) {
      if (!matched.has(t)) {
        if (t.phase === 'tentative') {
          step.removed.push(t);
          continue;
        }
        if (t.phase === 'confirmed') {
          t.phase = 'lost';
          t.kf = kalmanFreezeSize(t.kf);
        }
        if (ts - t.lastTs > this.cfg.lostMs) {
          step.removed.push(t);
          continue;
        }
      }
      kept.push(t);
    }
    this.tracks = kept;

    // 4. New tentative tracks from high boxes nothing took.
    for (const c of s3.freeCols) {
      const d = highLeft[c];
      if (this.tracks.length >= this.cfg.maxTracks) {
        step.overflow++;
        continue;
      }
      const confirmed = this.cfg.confirmHits <= 1;
      const t: Track = {
        id: this.nextId++,
        cls: d.cls,
        phase: confirmed ? 'confirmed' : 'tentative',
        kf: kalmanInit(d.box, ts),
        hits: 1,
        lastTs: ts,
        score: d.score,
      };
      this.tracks.push(t);
      if (confirmed) step.confirmed.push(t);
      step.observed.push({ track: t, box: d.box });
    }
    return step;
  }

  /** Ends every track (the camera went idle). */
  clear(): Track[] {
    const all = this.tracks;
    this.tracks = [];
    return all;
  }
}
