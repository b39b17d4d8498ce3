import { z } from 'zod';
import { VisionError } from '@vision/wire';
import { sourceKinds, type SourceKind } from './sources/registry';

export type { SourceKind } from './sources/registry';

/** A cameras file larger than this is a mistake, refused before any camera starts. */
const MAX_CAMERAS_IN_FILE = 10_000;

/**
 * One camera as written in the cameras file or sent to the API. Fields left out take the gateway's
 * defaults (CAMERA_DEFAULT_FPS, CAMERA_MAX_WIDTH, CAMERA_MAX_HEIGHT), so changing a default
 * changes every camera that does not say otherwise. Messages never quote the URL (it may hold a password).
 */
const cameraEntrySchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
    url: z
      .string()
      .min(1)
      .max(2048)
      .refine((u) => sourceKinds.ofUrl(u) !== undefined, sourceKinds.urlRule),
    fps: z.number().gt(0).max(60).optional(),
    maxWidth: z.number().int().min(32).max(8192).optional(),
    maxHeight: z.number().int().min(32).max(8192).optional(),
    model: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a model id: letters, digits, _ . - (at most 64)')
      .optional(),
    enabled: z.boolean().optional(),
    /** Files only: start again at the end (default) or stop there. */
    loop: z.boolean().optional(),
    /** Pin the camera to one gateway (GATEWAY_INDEX) instead of the id's hash. */
    gateway: z.number().int().min(0).max(9999).optional(),
    /**
     * `rtsp://` only: how RTP reaches ffmpeg (`tcp`, interleaved, by default; `udp` for cameras that offer
     * nothing else).
     */
    rtspTransport: z.enum(['tcp', 'udp']).optional(),
    /**
     * Also write the camera's video, as it comes, in segments under GATEWAY_RECORD_DIR (for event
     * clips). Only for kinds whose video ffmpeg can store without re-encoding.
     */
    record: z.boolean().optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    for (const issue of sourceKinds.issues(entry))
      ctx.addIssue({ code: 'custom', path: [issue.field], message: issue.message });
  });

export type CameraEntry = z.infer<typeof cameraEntrySchema>;

const fileSchema = z.object({ cameras: z.array(cameraEntrySchema).max(MAX_CAMERAS_IN_FILE) }).strict();

/** What a camera that sets none of its own gets. */
export interface CameraDefaults {
  defaultFps: number;
  maxWidth: number;
  maxHeight: number;
}

/** A camera with every default resolved: what a runner needs. */
export interface CameraSpec {
  id: string;
  url: string;
  kind: SourceKind;
  fps: number;
  maxWidth: number;
  maxHeight: number;
  model: string | undefined;
  enabled: boolean;
  loop: boolean;
  /** RTSP only: how RTP travels. */
  rtspTransport: 'tcp' | 'udp';
  /** Whether its video is also written in segments (docs/cameras.md#recording). */
  record: boolean;
}

export function resolveCamera(e: CameraEntry, d: CameraDefaults): CameraSpec {
  return {
    id: e.id,
    url: e.url,
    kind: sourceKinds.ofUrl(e.url)!.kind,
    fps: e.fps ?? d.defaultFps,
    maxWidth: e.maxWidth ?? d.maxWidth,
    maxHeight: e.maxHeight ?? d.maxHeight,
    model: e.model,
    // Absent means on: a camera is listed to be streamed, and a file source to play for ever.
    enabled: e.enabled !== false,
    loop: e.loop !== false,
    rtspTransport: e.rtspTransport ?? 'tcp',
    // Absent means off: recording takes disk, and is asked for camera by camera.
    record: e.record === true,
  };
}

/** Validates one camera (an API body); the error names each wrong field. */
export function parseCameraEntry(input: unknown): CameraEntry {
  const r = cameraEntrySchema.safeParse(input);
  if (!r.success) throw invalid(r.error.issues);
  return r.data;
}

/** Validates a whole cameras file; errors name the field (`cameras[2].fps: …`). */
export function parseCamerasFile(text: string): CameraEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new VisionError('E_CAMERA_INVALID', `the cameras file is not JSON: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(json);
  if (!r.success) throw invalid(r.error.issues);
  const seen = new Set<string>();
  r.data.cameras.forEach((c, i) => {
    if (seen.has(c.id)) throw new VisionError('E_CAMERA_INVALID', `cameras[${i}].id: duplicate id "${c.id}"`);
    seen.add(c.id);
  });
  return r.data.cameras;
}

export function formatCamerasFile(cameras: CameraEntry[]): string {
  return `${JSON.stringify({ cameras }, null, 2)}\n`;
}

function invalid(issues: z.ZodError['issues']): VisionError {
  const path = (p: PropertyKey[]) =>
    p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
  return new VisionError('E_CAMERA_INVALID', issues.map((i) => `${path(i.path) || '(body)'}: ${i.message}`).join('; '));
}
