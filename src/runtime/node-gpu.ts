// WebGPU under Node through the `webgpu` package (Dawn). Node-only: the core reaches it by dynamic import.
//
// How Dawn picks its Vulkan driver (measured with webgpu 0.6.2 on Linux): each create() makes a new Dawn
// instance, and the Vulkan loader reads VK_ICD_FILENAMES when that instance first discovers adapters, i.e.
// at its first requestAdapter(), not at create() and not once per process. So one process can probe the
// system drivers first and then create a second instance on SwiftShader, and the variable can be restored
// as soon as the SwiftShader instance has found its adapter. We still skip the hardware probe on Linux when
// no Vulkan driver manifest other than SwiftShader's is installed (the usual CI container): it could only
// fail, and Dawn prints "vkCreateInstance: Found no drivers!" warnings to stderr when it does.
//
// Dropping the GPU object and the devices lets the process exit normally; device.destroy() makes it prompt.

import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { adapterName, isSoftwareAdapter } from './webgpu/device.js';

/** 'never': hardware only; 'fallback': hardware, else SwiftShader; 'only': SwiftShader only (reproducible CI). */
export type SoftwareMode = 'never' | 'fallback' | 'only';

/** 'swiftshader' covers any software adapter, which in practice is SwiftShader. */
export type NodeGpuPath = 'hardware' | 'swiftshader';

export interface NodeGpuSelection {
  gpu: GPU | null;
  path: NodeGpuPath | null;
  /** One line saying why this path was taken, or why there is no GPU. */
  reason: string;
}

/**
 * Dawn zero-fills workgroup memory before every kernel unless told not to; wgfuse's kernels write every
 * workgroup element before reading it, so the fill is pure cost (on SwiftShader it also multiplies shader
 * compile time). Browsers keep it on; there wgfuse pays the fill.
 */
// Dawn also rounds timestamps to 65.5 us against timing side channels in web pages; a Node process profiling
// its own kernels wants the real values.
const DAWN_FLAGS = ['enable-dawn-features=disable_workgroup_init', 'disable-dawn-features=timestamp_quantization'];

/** The SwiftShader Vulkan driver shipped by Debian's chromium package. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export async function nodeGpu(opts: { software: SoftwareMode }): Promise<GPU | null> {
  return (await selectNodeGpu(opts)).gpu;
}

// A probe sets process.env.VK_ICD_FILENAMES for a while, so probes run one at a time.
let probes: Promise<unknown> = Promise.resolve();

/**
 * One Dawn instance per choice, for the life of the process: every wg.init() asks the same instance for a new
 * device. Instances made afresh per init (and dropped to the garbage collector while devices of theirs were
 * destroyed) went with rare crashes and stalls inside Dawn's event processing (a futex error, a mutex whose
 * owner was garbage) when test files re-initialised many times; one instance per process removes that churn.
 */
const selections = new Map<string, Promise<NodeGpuSelection>>();

export function selectNodeGpu(opts: { software: SoftwareMode }): Promise<NodeGpuSelection> {
  const key = `${opts.software}|${process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES || ''}`;
  const known = selections.get(key);
  if (known) return known;
  const probe = probes.then(() => probeDrivers(opts.software));
  probes = probe.catch(() => undefined);
  selections.set(key, probe);
  // A failed probe (no package, no adapter) is tried again next time.
  void probe.then((s) => s.gpu ?? selections.delete(key), () => selections.delete(key));
  return probe;
}

async function probeDrivers(mode: SoftwareMode): Promise<NodeGpuSelection> {
  let create: (flags: string[]) => GPU;
  try {
    ({ create } = await import('webgpu'));
  } catch (err) {
    return none(`the webgpu package could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
  }

  const userDrivers = process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES;
  if (userDrivers) return selectUserDriver(create, mode, userDrivers);

  let hardwareMiss = 'software only was requested';
  if (mode !== 'only') {
    if (hardwareDriverMayExist()) {
      const gpu = create(DAWN_FLAGS);
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (adapter && !isSoftwareAdapter(adapter.info)) {
        return { gpu, path: 'hardware', reason: `hardware adapter ${adapterName(adapter.info)}` };
      }
      hardwareMiss = adapter
        ? `the system drivers offer only a software adapter (${adapterName(adapter.info)})`
        : 'the system drivers offer no adapter';
    } else {
      hardwareMiss = 'no hardware Vulkan driver is installed';
    }
    if (mode === 'never') return none(`${hardwareMiss}, and software adapters are disabled`);
  }

  if (!existsSync(SWIFTSHADER_ICD)) return none(`${hardwareMiss}, and SwiftShader is not installed (${SWIFTSHADER_ICD})`);
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  try {
    const gpu = create(DAWN_FLAGS);
    const adapter = await gpu.requestAdapter();
    if (!adapter) return none(`${hardwareMiss}, and SwiftShader (${SWIFTSHADER_ICD}) offers no adapter`);
    return { gpu, path: 'swiftshader', reason: `${hardwareMiss}; using SwiftShader (${SWIFTSHADER_ICD})` };
  } finally {
    // The instance has discovered its adapters, so later instances (and child processes) need not see it.
    delete process.env.VK_ICD_FILENAMES;
  }
}

/** The user chose the Vulkan driver: one instance, judged by the adapter it yields. */
async function selectUserDriver(create: (flags: string[]) => GPU, mode: SoftwareMode, drivers: string): Promise<NodeGpuSelection> {
  const gpu = create(DAWN_FLAGS);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return none(`the Vulkan driver set by the user (${drivers}) offers no adapter`);
  const software = isSoftwareAdapter(adapter.info);
  if (software && mode === 'never') return none(`the driver set by the user (${drivers}) is software, and software adapters are disabled`);
  if (!software && mode === 'only') return none(`the driver set by the user (${drivers}) is hardware, and software only was requested`);
  return { gpu, path: software ? 'swiftshader' : 'hardware', reason: `Vulkan driver set by the user (${drivers})` };
}

/** Off Linux Dawn uses Metal or D3D12, which need no manifest; on Linux, Vulkan needs one. */
function hardwareDriverMayExist(): boolean {
  if (process.platform !== 'linux') return true;
  return vulkanManifestDirs().some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json') && !f.toLowerCase().includes('swiftshader'));
    } catch {
      return false; // missing directory
    }
  });
}

/** Where the Vulkan loader looks for driver manifests on Linux. */
function vulkanManifestDirs(): string[] {
  const env = process.env;
  const configDirs = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return [...configDirs, '/usr/local/etc', '/etc', dataHome, ...dataDirs].map((d) => join(d, 'vulkan', 'icd.d'));
}

function none(reason: string): NodeGpuSelection {
  return { gpu: null, path: null, reason };
}
