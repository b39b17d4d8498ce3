import { useRef, useState } from 'preact/hooks';
import type { LiveTracks, Rule } from './api';
import { inArrow, normalisedPoint, rulePoints, type Draft, type Point } from './geometry';

/** The `in` arrow's length, as a fraction of the picture. */
const ARROW_LENGTH = 0.06;

export interface OverlayProps {
  rules: Rule[];
  size: { w: number; h: number } | undefined;
  draft: Draft | undefined;
  selected: number | undefined;
  /** Whether clicks draw (a token with events:write and a draft open). */
  drawing: boolean;
  onAdd(p: Point): void;
  onMove(index: number, p: Point): void;
  onSelect(index: number | undefined): void;
  /** A zone's edge after corner `after` gets a corner at its midpoint. */
  onInsert(after: number): void;
  /** The newest frame's confirmed tracks, drawn as boxes with their ids. */
  tracks: LiveTracks | undefined;
}

function Tracks({ live }: { live: LiveTracks }) {
  return (
    <g id="tracks" data-ts={live.ts}>
      {live.tracks.map(([id, cls, x1, y1, x2, y2]) => (
        <g key={id} class="track" data-track={id}>
          <rect
            x={pct(x1 / live.w)}
            y={pct(y1 / live.h)}
            width={pct((x2 - x1) / live.w)}
            height={pct((y2 - y1) / live.h)}
          />
          <text x={pct(x1 / live.w)} y={pct(y1 / live.h)} dy="-3">
            #{id} {cls}
          </text>
        </g>
      ))}
    </g>
  );
}

const pct = (v: number) => `${v * 100}%`;

function Shape({ type, points, cls }: { type: 'line' | 'zone'; points: Point[]; cls: string }) {
  const arrow = type === 'line' && points.length === 2 ? inArrow(points[0], points[1], ARROW_LENGTH) : undefined;
  return (
    <svg viewBox="0 0 1 1" preserveAspectRatio="none" class={cls} data-shape={type}>
      {type === 'zone' ? (
        <polygon
          points={points.map((p) => p.join(',')).join(' ')}
          fill="rgba(88,166,255,0.12)"
          stroke-width="2"
          vector-effect="non-scaling-stroke"
        />
      ) : (
        points.length === 2 && (
          <line
            x1={points[0][0]}
            y1={points[0][1]}
            x2={points[1][0]}
            y2={points[1][1]}
            stroke-width="3"
            vector-effect="non-scaling-stroke"
          />
        )
      )}
      {arrow && (
        <line
          class="in-arrow"
          x1={arrow[0][0]}
          y1={arrow[0][1]}
          x2={arrow[1][0]}
          y2={arrow[1][1]}
          stroke-width="2"
          stroke-dasharray="4 2"
          vector-effect="non-scaling-stroke"
        />
      )}
    </svg>
  );
}

/** The camera's rules and the draft, drawn over the picture; clicks add points, vertices drag. */
export function Overlay(props: OverlayProps) {
  const svg = useRef<SVGSVGElement>(null);
  const [dragging, setDragging] = useState<number | undefined>();
  const at = (e: MouseEvent) => normalisedPoint(e, svg.current!.getBoundingClientRect());
  return (
    <svg
      ref={svg}
      id="overlay"
      class={props.drawing ? 'drawing' : undefined}
      onClick={(e) => props.drawing && props.onAdd(at(e))}
      onPointerMove={(e) => dragging !== undefined && props.onMove(dragging, at(e))}
      onPointerUp={() => setDragging(undefined)}
      onPointerLeave={() => setDragging(undefined)}
    >
      {props.rules
        .filter((r) => r.id !== props.draft?.id)
        .map((r) => (
          <g key={r.id} data-rule={r.id}>
            <Shape
              type={r.type}
              points={rulePoints(r, props.size)}
              cls={r.source === 'file' ? 'rule-file' : 'rule-api'}
            />
          </g>
        ))}
      {props.tracks && <Tracks live={props.tracks} />}
      {props.draft && (
        <g id="draft">
          <Shape type={props.draft.type} points={props.draft.points} cls="draft" />
          {props.draft.points.map((p, i) => (
            <circle
              key={i}
              class={`vertex${props.selected === i ? ' selected' : ''}`}
              data-vertex={i}
              cx={pct(p[0])}
              cy={pct(p[1])}
              r="6"
              onPointerDown={(e) => {
                e.stopPropagation();
                setDragging(i);
                props.onSelect(i);
              }}
              onClick={(e) => {
                e.stopPropagation();
                // A line's second point on its first still counts: the API then says why that line is refused.
                if (props.drawing && props.draft?.type === 'line') props.onAdd(at(e));
              }}
            />
          ))}
          {props.drawing &&
            props.draft.type === 'zone' &&
            props.draft.points.length >= 3 &&
            props.draft.points.map((p, i) => {
              const q = props.draft!.points[(i + 1) % props.draft!.points.length];
              return (
                <circle
                  key={`mid-${i}`}
                  class="midpoint"
                  data-after={i}
                  cx={pct((p[0] + q[0]) / 2)}
                  cy={pct((p[1] + q[1]) / 2)}
                  r="4"
                  onClick={(e) => {
                    e.stopPropagation();
                    props.onInsert(i);
                  }}
                />
              );
            })}
        </g>
      )}
    </svg>
  );
}
