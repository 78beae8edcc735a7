// Launch geometry. WebGPU allows at most 65,535 workgroups per dimension, so a long 1-D launch is folded
// into a 2-D grid and the kernel rebuilds the linear workgroup index from both axes.

export const MAX_WORKGROUPS_PER_DIM = 65535;

export function grid1d(workgroups: number, maxPerDim = MAX_WORKGROUPS_PER_DIM): [number, number, number] {
  if (workgroups <= maxPerDim) return [Math.max(workgroups, 1), 1, 1];
  const y = Math.ceil(workgroups / maxPerDim);
  if (y > maxPerDim) throw new Error(`internal: ${workgroups} workgroups exceed a ${maxPerDim}^2 grid`);
  return [Math.ceil(workgroups / y), y, 1];
}

/** WGSL for the linear workgroup index inside a grid from grid1d (needs `wid` and `nwg` builtins in scope). */
export const LINEAR_WORKGROUP = 'wid.y * nwg.x + wid.x';
