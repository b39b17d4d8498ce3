import type { Detection, WireError } from '@vision/wire';

/** Where a bulk job is in its life. */
export type JobState = 'uploading' | 'queued' | 'active' | 'completed' | 'cancelled' | 'failed';

export interface JobMeta {
  id: string;
  tenant: string;
  model: string;
  state: JobState;
  total: number;
  done: number;
  failed: number;
  createdAt: number;
  finishedAt: number | undefined;
  webhook: string | undefined;
}

export type ImageResult = { index: number; detections: Detection[] } | { index: number; error: WireError };

/** What `GET /v1/jobs/:id` answers. */
export interface JobStatus {
  id: string;
  model: string;
  state: JobState;
  progress: { total: number; done: number; failed: number };
  createdAt: number;
  finishedAt?: number;
  /** Results by image index, one page (`offset`, `limit`); `next` is the offset of the next page. */
  results: ImageResult[];
  next?: number;
}

/** What the webhook receives (signed; see `webhook.ts`). */
export interface WebhookEvent {
  type: 'job.finished';
  job: Omit<JobStatus, 'results' | 'next'>;
}
