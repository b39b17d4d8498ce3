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
