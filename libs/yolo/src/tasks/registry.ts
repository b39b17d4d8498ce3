import { VisionError } from '@vision/wire';
import { classifyTask } from './classify';
import { detectTask } from './detect';
import type { ModelTask } from './model-task';

/**
 * The tasks this server serves, by the metadata `task` value: a new task is its file and one line
 * here. docs/architecture.md "Where to add" lists what else a task touches (its wire shape).
 */
export const MODEL_TASKS: Readonly<Record<string, ModelTask>> = {
  detect: detectTask,
  classify: classifyTask,
};

/** The task names served, for messages and docs. */
export const MODEL_TASK_NAMES: readonly string[] = Object.keys(MODEL_TASKS);

/**
 * The task of an export's metadata. No `task` at all is a detector (exports before Ultralytics
 * wrote one); any other value must be registered, or the model is refused at load.
 */
export function modelTask(task: string | undefined): ModelTask {
  if (task === undefined) return detectTask;
  const found = Object.hasOwn(MODEL_TASKS, task) ? MODEL_TASKS[task] : undefined;
  if (!found) {
    throw new VisionError(
      'E_MODEL_INVALID',
      `metadata task: '${task}' is not a task this server serves (${MODEL_TASK_NAMES.join(', ')})`,
    );
  }
  return found;
}
