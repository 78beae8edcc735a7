// The pass registry: every graph pass by its name (the name dump-ir's --passes and --print-after take and
// the golden folder under test/golden/ is called), and the default pipeline, in the order it runs.
//
// Order, and why:
//   1. canonicalize, cse          simplify first: fold constants and identities, merge duplicate values,
//                                 so the pattern passes below see one canonical form.
//   2. fold-transposes            a transpose feeding a matmul operand becomes its transA/transB flag.
//   3. detect-syrk                matmul(x^T, x) patterns; it reads the flags fold-transposes set.
//   4. canonicalize, cse, dce     clean up what folding and detection left (transpose chains, duplicates).
//   5. fuse-epilogue              elementwise ops into a matmul's output, before the reductions and the
//                                 plain elementwise chains claim them.
//      fuse-prologue              elementwise producers of a matmul's operand into its tile loads (after
//                                 the epilogue, whose group the product then shares; before a reduction's
//                                 map claims them: the centring of a covariance feeds the SYRK, not a store).
//   6. fuse-reduction             elementwise producers and epilogues into reductions.
//   7. fuse-elementwise           what is left: elementwise chains into one kernel each.
// Fusion passes only annotate (the `group` attribute) and come last, so nothing after them rewrites the
// nodes they grouped.
import { ArgumentError } from '../ir/errors.js';
import type { Pass } from './pass.js';
import { canonicalize } from './canonicalize.js';
import { cse } from './cse.js';
import { dce } from './dce.js';
import { foldTransposes } from './fold-transposes.js';
import { detectSyrk } from './detect-syrk.js';
import { fuseEpilogue } from './fuse-epilogue.js';
import { fusePrologue } from './fuse-prologue.js';
import { fuseReduction } from './fuse-reduction.js';
import { fuseElementwise } from './fuse-elementwise.js';

/** Every graph pass by name: the pass's file name (kebab-case), which is also the `name` it gives itself. */
export const PASSES: Readonly<Record<string, Pass>> = Object.freeze({
  canonicalize,
  cse,
  dce,
  'fold-transposes': foldTransposes,
  'detect-syrk': detectSyrk,
  'fuse-epilogue': fuseEpilogue,
  'fuse-prologue': fusePrologue,
  'fuse-reduction': fuseReduction,
  'fuse-elementwise': fuseElementwise,
});

/** What `wg.compile`, evaluation and `wgfuse dump-ir` run by default. */
export const DEFAULT_PIPELINE: readonly Pass[] = Object.freeze([
  canonicalize,
  cse,
  foldTransposes,
  detectSyrk,
  canonicalize,
  cse,
  dce,
  fuseEpilogue,
  fusePrologue,
  fuseReduction,
  fuseElementwise,
]);

/** The registered pass names. */
export function passNames(): string[] {
  return Object.keys(PASSES);
}

/** The pass called `name` (its registry name, or the `name` the pass gives itself). */
export function passByName(name: string): Pass {
  if (Object.hasOwn(PASSES, name)) return PASSES[name];
  const byOwnName = Object.values(PASSES).find((p) => p.name === name);
  if (byOwnName) return byOwnName;
  const valid = passNames();
  throw new ArgumentError(`unknown pass '${name}'; valid passes: ${valid.length > 0 ? valid.join(', ') : '(none registered yet)'}`);
}

/** Passes from a comma-separated list (`fold-transposes,cse`), in the given order; '' is no passes. */
export function parsePassList(list: string): Pass[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(passByName);
}
