// A procedural photo for the demo: a hazy landscape (sky, sun, two mountain ridges, a lake with the
// reflection) with a warm colour cast and low contrast, plus a little noise. Deterministic: the same
// size gives the same pixels in every browser and in Node (the e2e test recomputes the reference from it).
//
// makeImage(width, height) -> { width, height, planes, rgba }
//   planes: Float32Array [3, height, width], values in [0, 1] (R plane, then G, then B): the pipeline's input
//   rgba:   Uint8ClampedArray [height, width, 4] of the same pixels, for a canvas

/** A small LCG (Numerical Recipes constants): uniform in [0, 1). */
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) / 16777216;
  };
}

const smooth = (e0, e1, x) => {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};
const mix = (a, b, t) => a + (b - a) * t;

const HORIZON = 0.7;

function farRidge(u) {
  return 0.46 + 0.06 * Math.sin(u * 7.1 + 0.4) + 0.035 * Math.sin(u * 17.3 + 1.9) + 0.012 * Math.sin(u * 61 + 0.3);
}
function nearRidge(u) {
  return 0.56 + 0.07 * Math.sin(u * 4.3 + 2.2) + 0.03 * Math.sin(u * 23.7 + 0.8) + 0.01 * Math.sin(u * 97 + 1.1);
}

/** The scene above the lake at (u, v) in [0, 1]^2, v down; `aspect` = height / width. */
function scene(u, v, aspect) {
  // Sky: a vertical gradient with a glow around the sun.
  let r = mix(0.32, 0.85, v / HORIZON);
  let g = mix(0.5, 0.82, v / HORIZON);
  let b = mix(0.86, 0.78, v / HORIZON);
  const d = Math.hypot(u - 0.7, (v - 0.22) * aspect);
  const glow = Math.exp(-(d * d) / 0.02);
  r += 0.35 * glow;
  g += 0.25 * glow;
  b += 0.05 * glow;
  const disk = smooth(0.062, 0.055, d);
  r = mix(r, 1.0, disk);
  g = mix(g, 0.93, disk);
  b = mix(b, 0.7, disk);
  // Far ridge: bluish, lit from the right.
  const f = farRidge(u);
  if (v > f) {
    const shade = 0.5 + 0.5 * Math.sin(u * 31 + v * 9) * smooth(f, f + 0.15, v);
    r = mix(0.36, 0.46, shade);
    g = mix(0.42, 0.52, shade);
    b = mix(0.58, 0.66, shade);
    // Snow on the peaks.
    if (v < f + 0.025 && f < 0.46) {
      r = g = 0.92;
      b = 0.95;
    }
  }
  // Near ridge: green forest, darker towards the water.
  const n = nearRidge(u);
  if (v > n) {
    const t = smooth(n, HORIZON, v);
    const tree = 0.5 + 0.5 * Math.sin(u * 180) * Math.sin(v * 140);
    r = mix(0.2, 0.1, t) + 0.05 * tree;
    g = mix(0.42, 0.24, t) + 0.08 * tree;
    b = mix(0.22, 0.16, t) + 0.03 * tree;
  }
  return [r, g, b];
}

export function makeImage(width, height, seed = 7) {
  const aspect = height / width;
  const plane = width * height;
  const planes = new Float32Array(3 * plane);
  const rgba = new Uint8ClampedArray(4 * plane);
  const noise = lcg(seed);
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) / height;
    for (let x = 0; x < width; x++) {
      const u = (x + 0.5) / width;
      let rgb;
      if (v <= HORIZON) {
        rgb = scene(u, v, aspect);
      } else {
        // The lake: the mirrored scene, rippled, darker and bluer.
        const depth = (v - HORIZON) / (1 - HORIZON);
        const ripple = 0.006 * Math.sin(v * 420 + Math.sin(u * 37) * 3) * (0.3 + depth);
        const mirrored = scene(u + ripple, Math.max(0, 2 * HORIZON - v), aspect);
        const fade = 0.75 - 0.25 * depth;
        rgb = [mirrored[0] * fade * 0.9, mirrored[1] * fade, mirrored[2] * fade + 0.08 * depth];
      }
      const i = y * width + x;
      for (let c = 0; c < 3; c++) {
        // Haze and a warm cast: the contrast the pipeline restores per channel.
        const hazy = 0.3 + 0.42 * rgb[c] + [0.07, 0.03, -0.04][c] + (noise() - 0.5) * 0.02;
        const value = Math.min(1, Math.max(0, hazy));
        planes[c * plane + i] = value;
        rgba[4 * i + c] = Math.round(value * 255);
      }
      rgba[4 * i + 3] = 255;
    }
  }
  return { width, height, planes, rgba };
}
