// Acquires a WebGPU device with the limits and features wgfuse kernels can use, and records what was granted.
// Browser-safe: it only touches WebGPU objects; Node finds its GPU object through ../node-gpu.ts.

export interface GpuContext {
  device: GPUDevice;
  /** Null when the caller passed a device. */
  adapter: GPUAdapter | null;
  adapterName: string;
  /** A software adapter (SwiftShader, llvmpipe): correct but slow, so callers may prefer the CPU reference. */
  isFallback: boolean;
  /** Features the device was granted. */
  features: string[];
  /** Limits the device was granted. */
  limits: Record<string, number>;
  /** Resolves when the device is lost, including by destroy(). */
  lost: Promise<GPUDeviceLostInfo>;
}

export interface AcquireOptions {
  gpu?: GPU;
  device?: GPUDevice;
  /** Accept a software adapter; default true. */
  allowSoftware?: boolean;
  /** Default 'high-performance'. */
  powerPreference?: GPUPowerPreference;
}

/** Limits whose defaults are too small for large tensors or fused kernels; we ask for the adapter's maximum. */
const RAISED_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

const SOFTWARE_MARKERS = ['swiftshader', 'llvmpipe', 'lavapipe'];

/** Returns null when there is no GPU object, no adapter, or only a software adapter that was not allowed. */
export async function acquireDevice(opts: AcquireOptions = {}): Promise<GpuContext | null> {
  const allowSoftware = opts.allowSoftware ?? true;
  if (opts.device) {
    const ctx = contextFor(opts.device, null, opts.device.adapterInfo);
    return ctx.isFallback && !allowSoftware ? null : ctx;
  }

  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) return null;
  if (isSoftwareAdapter(adapter.info) && !allowSoftware) return null;

  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return contextFor(device, adapter, adapter.info);
}

export function isSoftwareAdapter(info: GPUAdapterInfo | undefined): boolean {
  if (!info) return false;
  if (info.isFallbackAdapter) return true;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return SOFTWARE_MARKERS.some((m) => text.includes(m));
}

/** E.g. `SwiftShader driver 5.0.0 (google, swiftshader)`; falls back to 'unknown adapter'. */
export function adapterName(info: GPUAdapterInfo | undefined): string {
  if (!info) return 'unknown adapter';
  const head = info.description || info.device;
  const detail = [info.vendor, info.architecture].filter(Boolean).join(', ');
  if (head && detail) return `${head} (${detail})`;
  return head || detail || 'unknown adapter';
}

/** One line, e.g. `webgpu: SwiftShader driver 5.0.0 (google, swiftshader) software, 12 storage buffers/stage, maxBufferSize 1 GiB`. */
export function describeContext(ctx: GpuContext): string {
  const kind = ctx.isFallback ? 'software' : 'hardware';
  const buffers = ctx.limits.maxStorageBuffersPerShaderStage;
  return `webgpu: ${ctx.adapterName} ${kind}, ${buffers} storage buffers/stage, maxBufferSize ${formatBytes(ctx.limits.maxBufferSize)}`;
}

/** Binary units, e.g. 2147483648 -> '2 GiB', 4294967292 -> '4.0 GiB'. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[i]}`;
}

function contextFor(device: GPUDevice, adapter: GPUAdapter | null, info: GPUAdapterInfo | undefined): GpuContext {
  const limits: Record<string, number> = {};
  // WebIDL attributes live on the prototype, so Object.keys() misses them; for-in does not.
  for (const name in device.limits) {
    const value = device.limits[name as keyof GPUSupportedLimits];
    if (typeof value === 'number') limits[name] = value;
  }
  return {
    device,
    adapter,
    adapterName: adapterName(info),
    isFallback: isSoftwareAdapter(info),
    features: [...device.features].sort(),
    limits,
    lost: device.lost,
  };
}
