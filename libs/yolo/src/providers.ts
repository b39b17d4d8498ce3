import type { InferenceSession } from 'onnxruntime-node';
import type { ExecutionProviderName } from '@vision/config';

/**
 * The provider list handed to ONNX Runtime. `cpu` trails GPU providers only so that operators the
 * GPU provider lacks can still run; it is not a fallback for a provider that fails to load (ORT
 * throws in that case, which is what we want).
 */
export function providerConfig(
  name: ExecutionProviderName,
  deviceId: number,
): InferenceSession.ExecutionProviderConfig[] {
  switch (name) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return [{ name: 'cuda', deviceId }, 'cpu'];
    case 'tensorrt':
      return [{ name: 'tensorrt', deviceId }, { name: 'cuda', deviceId }, 'cpu'];
  }
}
