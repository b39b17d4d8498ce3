/**
 * One detected object in original-image pixels. The field names are the seed's wire format:
 * browser code does `renderBoxes(JSON.parse(event.data))` on an array of these.
 */
export interface Detection {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  confidence: number;
  class: number;
  name: string;
}

/**
 * One class of a classification model's answer for a whole frame (Ultralytics `task: classify`):
 * the best classes first, `confidence` the model's probability for the class.
 */
export interface Classification {
  class: number;
  name: string;
  confidence: number;
}

/**
 * What a model found in one frame, by task: every task fills `detections` (an empty list where the
 * task has no boxes, so seed clients keep their plain box list); a classifier adds `classifications`.
 */
export interface FrameFindings {
  detections: Detection[];
  classifications?: Classification[];
}
