// acquireDevice and its report of what the device was granted.

import { afterAll, describe, expect, it } from 'vitest';
import { selectNodeGpu } from '../../src/runtime/node-gpu.js';
import { acquireDevice, adapterName, describeContext, formatBytes, isSoftwareAdapter } from '../../src/runtime/webgpu/device.js';

const selection = await selectNodeGpu({ software: 'fallback' });
const inCI = process.env.CI === 'true';
const devices: GPUDevice[] = [];

async function acquire() {
  const ctx = await acquireDevice({ gpu: selection.gpu!, allowSoftware: true });
  if (!ctx) throw new Error(`no WebGPU adapter: ${selection.reason}`);
  devices.push(ctx.device);
  return ctx;
}

afterAll(() => {
  for (const d of devices) d.destroy();
});

// Outside CI a machine without any adapter (no GPU, no SwiftShader) skips the device tests; in CI it fails.
describe.skipIf(!selection.gpu && !inCI)('acquireDevice on a real adapter', () => {
  it('grants at least the defaults and records what was granted', async () => {
    const ctx = await acquire();
    expect(ctx.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(ctx.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(ctx.limits.maxBufferSize).toBe(ctx.device.limits.maxBufferSize);
    expect(ctx.limits.maxStorageBuffersPerShaderStage).toBe(ctx.adapter!.limits.maxStorageBuffersPerShaderStage);
    expect(ctx.features).toEqual([...ctx.device.features].sort());
    for (const f of ['timestamp-query', 'subgroups', 'shader-f16']) {
      expect(ctx.features.includes(f)).toBe(ctx.adapter!.features.has(f));
    }
  });

  it('uses a passed device as is', async () => {
    const first = await acquire();
    const ctx = await acquireDevice({ device: first.device });
    expect(ctx!.device).toBe(first.device);
    expect(ctx!.adapter).toBeNull();
    expect(ctx!.limits).toEqual(first.limits);
    expect(ctx!.isFallback).toBe(first.isFallback);
  });

  it('describes the adapter in one line', async () => {
    const ctx = await acquire();
    const line = describeContext(ctx);
    expect(line).toContain(ctx.adapterName);
    expect(ctx.adapterName).not.toBe('unknown adapter');
    expect(line).not.toContain('\n');
  });

  it.runIf(selection.path === 'swiftshader')('detects SwiftShader as software', async () => {
    const ctx = await acquire();
    expect(ctx.isFallback).toBe(true);
    expect(ctx.adapterName.toLowerCase()).toContain('swiftshader');
    expect(describeContext(ctx)).toContain('software');
  });
});

describe('adapter info helpers', () => {
  const info = (fields: Partial<GPUAdapterInfo>) =>
    ({ vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false, ...fields }) as GPUAdapterInfo;

  it('detects software adapters from their names or the fallback flag', () => {
    expect(isSoftwareAdapter(info({ vendor: 'google', architecture: 'swiftshader' }))).toBe(true);
    expect(isSoftwareAdapter(info({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }))).toBe(true);
    expect(isSoftwareAdapter(info({ isFallbackAdapter: true }))).toBe(true);
    expect(isSoftwareAdapter(info({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' }))).toBe(false);
    expect(isSoftwareAdapter(undefined)).toBe(false);
  });

  it('names adapters and falls back to unknown', () => {
    expect(adapterName(info({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader' }))).toBe(
      'SwiftShader (google, swiftshader)',
    );
    expect(adapterName(info({}))).toBe('unknown adapter');
    expect(adapterName(undefined)).toBe('unknown adapter');
  });

  it('formats byte sizes in binary units', () => {
    expect(formatBytes(2 ** 31)).toBe('2 GiB');
    expect(formatBytes(2 ** 32 - 4)).toBe('4.0 GiB');
    expect(formatBytes(512)).toBe('512 B');
  });
});
