// A generator's process-wide tuning: its defaults, replaced as a whole by benchmarks that compare variants
// (bench/kernels.ts) and by tests that reach a threshold with small shapes. One mechanism for every generator
// that has one (elementwise, row, row-split).

export interface Tuning<T extends object> {
  /** The tuning in force. */
  get(): T;
  /** Replaces it; fields not given keep their defaults; null restores the defaults. */
  set(t: Partial<T> | null): void;
}

export function tuning<T extends object>(defaults: T): Tuning<T> {
  let current = defaults;
  return {
    get: () => current,
    set: (t) => {
      current = t ? { ...defaults, ...t } : defaults;
    },
  };
}
