// A real GPUDevice wrapped so that tests can inject the faults a real device shows rarely: out-of-memory
// on createBuffer (reported the way WebGPU reports it, through the innermost 'out-of-memory' error scope,
// with an invalid buffer returned), a device of limited memory, and readbacks that never settle.
// Everything else goes to the real device, so the code under test runs its real paths on Dawn.

const MAP_READ = 0x0001;
const STORAGE = 0x0080;

export interface Faults {
  /** The next this-many createBuffer calls run out of memory. */
  failNextCreates: number;
  /** createBuffer runs out of memory when the live bytes of buffers created through the wrapper would exceed this. */
  capacityBytes: number;
  /** What never settles (a hung device): mapAsync of buffers created through the wrapper, pipeline creation, popErrorScope. */
  hang: { map: boolean; pipeline: boolean; scope: boolean };
  /** Bytes of buffers created through the wrapper and not destroyed. */
  liveBytes: number;
  /** Out-of-memory errors reported so far. */
  outOfMemory: number;
  /** The next popped 'validation' scope reports this error (a device rejecting work it accepted before). */
  validationError: string | null;
  /** Errors no error scope caught (the code under test must catch all of them). */
  uncaptured: string[];
  /** Promises left hanging. */
  hung: number;
}

interface Scope {
  readonly filter: GPUErrorFilter;
  error: GPUError | null;
}

export function faultyDevice(device: GPUDevice): { device: GPUDevice; faults: Faults } {
  const faults: Faults = { failNextCreates: 0, capacityBytes: Infinity, hang: { map: false, pipeline: false, scope: false }, validationError: null, liveBytes: 0, outOfMemory: 0, uncaptured: [], hung: 0 };
  const never = <T>(): Promise<T> => {
    faults.hung++;
    return new Promise<T>(() => undefined);
  };
  // Real errors that no scope caught, e.g. a validation error outside any scope.
  device.addEventListener('uncapturederror', (e) => faults.uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
  const scopes: Scope[] = [];

  const report = (error: GPUError) => {
    for (let i = scopes.length - 1; i >= 0; i--) {
      if (scopes[i].filter === 'out-of-memory') {
        scopes[i].error ??= error;
        return;
      }
    }
    faults.uncaptured.push(error.message);
  };

  const createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const size = desc.size;
    if (faults.failNextCreates > 0 || faults.liveBytes + size > faults.capacityBytes) {
      if (faults.failNextCreates > 0) faults.failNextCreates--;
      faults.outOfMemory++;
      report({ message: `injected: out of memory creating a buffer of ${size} bytes` } as GPUError);
      // What WebGPU hands back on out-of-memory: an invalid buffer, which fails validation wherever it is used.
      device.pushErrorScope('validation');
      const invalid = device.createBuffer({ size, usage: MAP_READ | STORAGE });
      void device.popErrorScope();
      return invalid;
    }
    const buffer = device.createBuffer(desc);
    faults.liveBytes += size;
    let destroyed = false;
    const destroy = buffer.destroy;
    buffer.destroy = () => {
      if (!destroyed) faults.liveBytes -= size;
      destroyed = true;
      destroy.call(buffer);
    };
    const mapAsync = buffer.mapAsync;
    buffer.mapAsync = (...args: Parameters<GPUBuffer['mapAsync']>) => {
      return faults.hang.map ? never<undefined>() : mapAsync.apply(buffer, args);
    };
    return buffer;
  };

  const overrides: Record<string, unknown> = {
    createBuffer,
    pushErrorScope: (filter: GPUErrorFilter) => {
      scopes.push({ filter, error: null });
      device.pushErrorScope(filter);
    },
    popErrorScope: () => {
      const scope = scopes.pop();
      const real = device.popErrorScope();
      if (faults.hang.scope) return never<GPUError | null>();
      if (scope?.filter === 'validation' && faults.validationError !== null) {
        const message = faults.validationError;
        faults.validationError = null;
        return real.then(() => ({ message }) as GPUError);
      }
      return scope?.error ? real.then(() => scope.error) : real;
    },
    createComputePipelineAsync: (desc: GPUComputePipelineDescriptor) => (faults.hang.pipeline ? never<GPUComputePipeline>() : device.createComputePipelineAsync(desc)),
  };
  const wrapped = new Proxy(device, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { device: wrapped, faults };
}
