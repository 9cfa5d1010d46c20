//! Axis-parallel forests (extension level 0, our default) scored without branches.
//!
//! Why: [`FlatForest`](super::flat::FlatForest)'s node walk costs ~50 ns per row and tree,
//! most of it mispredicted branches (a cut sends a row left or right at random, by design of
//! the forest), where scikit-learn's Cython walk costs ~20 ns. Scoring is the streaming path's
//! per-row cost, so axis-parallel forests get a second compiled form in which every row takes
//! the same instructions:
//! - every tree is padded to a complete binary tree of the forest's depth `D`: level `l`
//!   holds `2^l` cuts, a row at cut `i` of level `l` moves to cut `2i + [x_f >= t]` of level
//!   `l + 1`, and after `D` levels its index picks one of `2^D` leaf path lengths;
//! - a leaf shallower than `D` becomes cuts whose threshold is NaN (no comparison with NaN is
//!   true, so the row always takes the first child), and its path length fills all the leaf
//!   slots below it;
//! - the crate's test `(x − p)·n <= 0` is folded into `x >= t` by ordering the two children
//!   by the sign of `n` and rounding `p` to the f32 `t` that makes the two tests agree for
//!   every f32 `x` (see [`threshold`]).
//!
//! **Inputs are rounded to f32**, as scikit-learn's trees also do. For inputs that are f32
//! values (the detection job's features are on a 2^-8 grid, so any below 2^16 are) the scores
//! are bit for bit those of the crate and of `FlatForest`: the same leaves, and the path
//! lengths added in tree order in f64. The tests check that on both kernels. (The one gap: a
//! product `(x − p)·n` so small it underflows to zero; the crate then goes left, here the
//! comparison of `x` and `p` decides.) Rows with a NaN feature are left to the caller.
//!
//! Kernels: on x86-64 with AVX-512 (checked at run time) sixteen rows move through a tree
//! together, six such groups interleaved. The top cuts stay in vector registers for a whole
//! pass over a tree and are picked per lane with permutes; the rows' feature values come from
//! whole-column loads near the root and from gathers below (see `avx512::walk` for which
//! level does what, and why). With AVX2 only, eight rows per vector take the same walk
//! (`avx2`). Elsewhere a portable loop does the same steps a row at a time with conditional
//! moves.

#![allow(unsafe_code)] // the AVX-512 kernel: gathers read through raw pointers, bounds argued below

use super::flat::{LeafWalk, Step};

/// Rows moved through a tree together (one AVX-512 vector of f32).
pub const LANES: usize = 16;

/// Deepest forest compiled this way: 2^12 leaves a tree (32 KB of path lengths).
const MAX_DEPTH: u32 = 12;

/// Threshold and feature-offset slots per tree: `2^D − 1` cuts, at least 64 so that the
/// kernel's unaligned 16-wide loads of levels 0–5 stay inside the tree.
fn cut_stride(depth: u32) -> usize {
    (1usize << depth).max(64)
}

/// An axis-parallel forest in complete-tree layout; see the module documentation.
#[derive(Clone, Debug)]
pub struct AxisForest {
    depth: u32,
    trees: usize,
    dims: usize,
    /// Per tree, `cut_stride` thresholds in level order (padding is NaN).
    thresholds: Vec<f32>,
    /// Per tree, `cut_stride` offsets of the cut's feature in a block: `feature × LANES`.
    offsets: Vec<i32>,
    /// Per tree, `2^D` leaf path lengths.
    leaves: Vec<f64>,
}

/// The smallest f32 `t` with `x >= t ⟺ x > p` for every f32 `x` (`n > 0`: the crate goes
/// right exactly when `x > p`), or with `x >= t ⟺ x >= p` (`n < 0`: it goes left exactly then).
fn threshold(p: f64, strictly_above: bool) -> f32 {
    let t = p as f32; // nearest; ±inf beyond f32's range, which keeps both equivalences
    let below = if strictly_above {
        f64::from(t) <= p
    } else {
        f64::from(t) < p
    };
    if below { t.next_up() } else { t }
}

impl AxisForest {
    /// Builds the layout from a compiled forest's trees, or `None` when a cut uses more than
    /// one feature (an extended forest) or the forest is deeper than [`MAX_DEPTH`].
    pub(crate) fn build(dims: usize, walks: &[LeafWalk]) -> Option<AxisForest> {
        let depth = walks.iter().map(LeafWalk::depth).max()?;
        if depth > MAX_DEPTH || dims * LANES > i32::MAX as usize {
            return None;
        }
        let stride = cut_stride(depth);
        let mut forest = AxisForest {
            depth,
            trees: walks.len(),
            dims,
            thresholds: vec![f32::NAN; stride * walks.len()],
            offsets: vec![0; stride * walks.len()],
            leaves: vec![0.0; (1 << depth) * walks.len()],
        };
        for (tree, walk) in walks.iter().enumerate() {
            forest.place(tree, walk, walk.root(), 0, 0)?;
        }
        Some(forest)
    }

    /// Places the subtree at `node` as cut `slot` of `level` in tree `tree`.
    fn place(
        &mut self,
        tree: usize,
        walk: &LeafWalk,
        node: usize,
        level: u32,
        slot: usize,
    ) -> Option<()> {
        let (term, left, right) = match walk.step(node) {
            Step::Oblique => return None,
            Step::Leaf(value) => {
                // Every leaf slot below it holds its path length; its cuts stay NaN.
                let span = 1usize << (self.depth - level);
                let first = (1usize << self.depth) * tree + slot * span;
                self.leaves[first..first + span].fill(value);
                return Some(());
            }
            Step::Axis { term, left, right } => (term, left, right),
        };
        let at = cut_stride(self.depth) * tree + (1usize << level) - 1 + slot;
        let (first, second) = match term {
            // No coefficient: the direction is 0, so every row goes left.
            None => (left, right),
            Some((feature, n, p)) => {
                self.thresholds[at] = threshold(p, n > 0.0);
                self.offsets[at] = i32::try_from(feature * LANES).ok()?;
                if n > 0.0 {
                    (left, right)
                } else {
                    (right, left)
                }
            }
        };
        self.place(tree, walk, first, level + 1, 2 * slot)?;
        self.place(tree, walk, second, level + 1, 2 * slot + 1)
    }

    /// Features per row.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Values of `xs` needed for `blocks` blocks: `blocks × dims × LANES`, the layout
    /// [`AxisForest::transpose`] writes.
    pub fn block_len(&self) -> usize {
        self.dims * LANES
    }

    /// Writes up to `LANES` rows into one block: feature `f` of row `r` at `f × LANES + r`;
    /// missing rows are zeros. Returns whether any value was NaN.
    pub fn transpose(&self, rows: &[&[f64]], block: &mut [f32]) -> bool {
        debug_assert!(rows.len() <= LANES && block.len() == self.block_len());
        block.fill(0.0);
        let mut nan = false;
        for (lane, row) in rows.iter().enumerate() {
            for (feature, &x) in row.iter().enumerate().take(self.dims) {
                nan |= x.is_nan();
                block[feature * LANES + lane] = x as f32;
            }
        }
        nan
    }

    /// Adds every tree's path length, in tree order, to `sums` (one per row of `xs`, which
    /// holds `sums.len() / LANES` blocks written by [`AxisForest::transpose`]).
    pub fn add_path_lengths(&self, xs: &[f32], sums: &mut [f64], kernel: Kernel) {
        assert_eq!(sums.len() % LANES, 0);
        assert_eq!(xs.len(), sums.len() / LANES * self.block_len());
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 if Kernel::avx512_available() => {
                // SAFETY: the CPU has AVX-512F (checked just above); the slice lengths are
                // asserted above, and the layout's bounds are argued in `avx512::add_trees`.
                unsafe { avx512::add_trees(self, xs, sums) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 if Kernel::avx2_available() => {
                // SAFETY: the CPU has AVX2 (checked just above); bounds as for AVX-512,
                // argued in `avx2::add_trees`.
                unsafe { avx2::add_trees(self, xs, sums) }
            }
            _ => self.add_path_lengths_portable(xs, sums),
        }
    }

    fn add_path_lengths_portable(&self, xs: &[f32], sums: &mut [f64]) {
        let stride = cut_stride(self.depth);
        let leaves = 1usize << self.depth;
        for tree in 0..self.trees {
            let thresholds = &self.thresholds[tree * stride..][..stride];
            let offsets = &self.offsets[tree * stride..][..stride];
            let tree_leaves = &self.leaves[tree * leaves..][..leaves];
            for (block, sums) in xs
                .chunks_exact(self.block_len())
                .zip(sums.chunks_exact_mut(LANES))
            {
                let mut slots = [0usize; LANES];
                for level in 0..self.depth {
                    let first = (1usize << level) - 1;
                    for (lane, slot) in slots.iter_mut().enumerate() {
                        let cut = first + *slot;
                        let x = block[offsets[cut] as usize + lane];
                        *slot = 2 * *slot + usize::from(x >= thresholds[cut]);
                    }
                }
                for (sum, slot) in sums.iter_mut().zip(slots) {
                    *sum += tree_leaves[slot];
                }
            }
        }
    }
}

/// Which scoring loop to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 when the CPU has it, else portable.
    Avx512,
    /// AVX2 (eight rows per vector) when the CPU has it, else portable: most x86-64 servers
    /// without AVX-512 (AMD before Zen 4, Intel client parts) have it.
    Avx2,
    /// The portable loop, on any CPU.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn best() -> Kernel {
        if Kernel::avx512_available() {
            Kernel::Avx512
        } else if Kernel::avx2_available() {
            Kernel::Avx2
        } else {
            Kernel::Portable
        }
    }

    /// Whether this CPU runs the AVX2 kernel.
    pub fn avx2_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether this CPU runs the AVX-512 kernel.
    pub fn avx512_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// Calls `f::<D>(args)` with the forest depth `D` as a constant (0–[`MAX_DEPTH`]), so each
/// kernel's level loop is unrolled for it.
#[cfg(target_arch = "x86_64")]
macro_rules! by_depth {
    ($depth:expr, $f:ident($($arg:expr),*)) => {
        match $depth {
            0 => $f::<0>($($arg),*),
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            9 => $f::<9>($($arg),*),
            10 => $f::<10>($($arg),*),
            11 => $f::<11>($($arg),*),
            _ => $f::<12>($($arg),*),
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{AxisForest, LANES, cut_stride};

    /// Blocks moved through a tree together: six independent chains of dependent loads, to
    /// hide their latency.
    const GROUP: usize = 6;

    /// Rows of at most this many features have their values picked by masked loads of the
    /// feature columns (one compare and one load a feature) instead of gathered. On a Zen 4
    /// EPYC (AVX-512, where a gather costs more than on the Xeons before it), `anomaly-bench
    /// odds --runs 1`, old and new binaries alternating, four runs each, medians, with the
    /// level-7 change of [`walk`]: default (3 features) +40%, iris (4) +29%, pima532 (7)
    /// +7%. The bound of 8 was picked in a scratch harness (256k rows, depth-8 forests, not
    /// kept), where 9 features lost 3% and 13 lost 20% against gathering.
    const SMALL_DIMS: usize = 8;

    /// Adds each tree's path lengths to `sums`, tree by tree over all blocks, so that a
    /// tree's top cuts are loaded into registers once per pass.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `xs.len() == sums.len() / LANES × forest.block_len()` and
    /// `sums.len() % LANES == 0`. Then every pointer read below is in bounds: a cut slot is
    /// `2^l − 1 + i` with `i < 2^l` and `l < D`, so below `2^D − 1 < cut_stride`; the 16-wide
    /// loads of levels ≤ 5 start at `2^l − 1 ≤ 31` and end before 64 ≤ `cut_stride`; a leaf
    /// index is below `2^D`; a feature offset is `f × LANES` with `f < dims`, plus a lane
    /// below `LANES`, inside its block.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn add_trees(forest: &AxisForest, xs: &[f32], sums: &mut [f64]) {
        // SAFETY: the caller's contract is this function's.
        unsafe { by_depth!(forest.depth, add_trees_at(forest, xs, sums)) }
    }

    /// One tree's cuts of levels 0–5, held in registers during its pass, and the feature
    /// offsets of levels 0–2.
    struct TopCuts {
        thresholds: [__m512; 7],
        offsets: [__m512i; 7],
        columns: [usize; 7],
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn add_trees_at<const D: u32>(forest: &AxisForest, xs: &[f32], sums: &mut [f64]) {
        let stride = cut_stride(D);
        let block_len = forest.block_len();
        let blocks = sums.len() / LANES;
        for tree in 0..forest.trees {
            // SAFETY: see `add_trees`; the tree's slots are `stride` long.
            let thresholds = unsafe { forest.thresholds.as_ptr().add(tree * stride) };
            let offsets = unsafe { forest.offsets.as_ptr().add(tree * stride) };
            let leaves = unsafe { forest.leaves.as_ptr().add(tree << D) };
            let mut top = TopCuts {
                thresholds: [_mm512_setzero_ps(); 7],
                offsets: [_mm512_setzero_si512(); 7],
                columns: [0; 7],
            };
            // Levels 0–4 (one vector each) and level 5 (two vectors: slots 31..47, 47..63).
            for (i, at) in [0, 1, 3, 7, 15, 31, 47].into_iter().enumerate() {
                unsafe {
                    top.thresholds[i] = _mm512_loadu_ps(thresholds.add(at));
                    top.offsets[i] = _mm512_loadu_si512(offsets.add(at).cast());
                }
            }
            for (i, column) in top.columns.iter_mut().enumerate() {
                *column = forest.offsets[tree * stride + i] as usize;
            }
            let mut block = 0;
            while block + GROUP <= blocks {
                unsafe {
                    walk::<D, GROUP>(
                        &top, thresholds, offsets, leaves, xs, block_len, block, sums,
                    )
                };
                block += GROUP;
            }
            while block < blocks {
                unsafe {
                    walk::<D, 1>(
                        &top, thresholds, offsets, leaves, xs, block_len, block, sums,
                    )
                };
                block += 1;
            }
        }
    }

    /// Moves blocks `first..first + G` through one tree and adds their leaves to `sums`.
    ///
    /// Each level picks every lane's threshold and feature value the cheapest way its size
    /// allows, because gathers (16 loads each) are what the walk waits on:
    /// - levels 0–2 (≤ 4 cuts): the cuts' feature columns are loaded whole and blended by the
    ///   slot's bits; thresholds are permuted from a register;
    /// - levels 3–5: thresholds and feature offsets permuted from registers, values gathered;
    /// - level 6: thresholds and offsets permuted from memory (two table pairs, blended);
    /// - level 7: the same from four table pairs (three blends);
    /// - deeper levels: everything gathered;
    /// - on rows of at most [`SMALL_DIMS`] features, values are picked from the columns by
    ///   masked loads at every level from 3 on, instead of gathered.
    ///
    /// Measured on the ODDS sets (depth 8): gathering level 6's cuts as well halves the
    /// throughput; on an Intel Xeon, permuting level 7's (four table pairs), or gathering its
    /// thresholds and offsets as 64-bit pairs (half the loads), gained nothing measurable, but
    /// on a Zen 4 EPYC permuting it is faster (sets of 9–85 features, where [`SMALL_DIMS`]
    /// plays no part: breastw +17%, digits +6%, caravan +5%, wbc ±0, wine −4%, the same
    /// `anomaly-bench` runs), so it is permuted; on the Xeon, loading and blending columns
    /// for level 3, or for every level on rows of ≤ 16 features, was no faster or slower (on
    /// Zen 4 masked loads win up to 8 features: [`SMALL_DIMS`]); six blocks in flight beat
    /// two, four and eight (five and seven are within noise; on Zen 4 eight equal six).
    ///
    /// The levels are spelled out (`D` is a constant, so the `if`s fold away) rather than
    /// looped over, which would leave the unrolling to LLVM's size heuristics.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn walk<const D: u32, const G: usize>(
        top: &TopCuts,
        thresholds: *const f32,
        offsets: *const i32,
        leaves: *const f64,
        xs: &[f32],
        block_len: usize,
        first: usize,
        sums: &mut [f64],
    ) {
        let blocks: [*const f32; G] =
            std::array::from_fn(|g| unsafe { xs.as_ptr().add((first + g) * block_len) });
        let mut slots = [_mm512_setzero_si512(); G];
        let column = |g: usize, i: usize| unsafe { _mm512_loadu_ps(blocks[g].add(top.columns[i])) };
        let bit = |slot: __m512i, bit: i32| _mm512_test_epi32_mask(slot, _mm512_set1_epi32(bit));
        if D > 0 {
            let t = _mm512_permutexvar_ps(_mm512_setzero_si512(), top.thresholds[0]);
            unsafe { step(&mut slots, |g, _| (t, column(g, 0))) };
        }
        if D > 1 {
            let t = top.thresholds[1];
            unsafe {
                step(&mut slots, |g, slot| {
                    let x = _mm512_mask_blend_ps(bit(slot, 1), column(g, 1), column(g, 2));
                    (_mm512_permutexvar_ps(slot, t), x)
                })
            };
        }
        if D > 2 {
            let t = top.thresholds[2];
            unsafe {
                step(&mut slots, |g, slot| {
                    let low = bit(slot, 1);
                    let a = _mm512_mask_blend_ps(low, column(g, 3), column(g, 4));
                    let b = _mm512_mask_blend_ps(low, column(g, 5), column(g, 6));
                    let x = _mm512_mask_blend_ps(bit(slot, 2), a, b);
                    (_mm512_permutexvar_ps(slot, t), x)
                })
            };
        }
        macro_rules! in_registers {
            ($($level:literal)*) => {$(
                if D > $level {
                    let (t, o) = (top.thresholds[$level], top.offsets[$level]);
                    unsafe {
                        step(&mut slots, |g, slot| {
                            let x = gather_x(blocks[g], _mm512_permutexvar_epi32(slot, o), block_len);
                            (_mm512_permutexvar_ps(slot, t), x)
                        })
                    };
                }
            )*};
        }
        in_registers!(3 4);
        if D > 5 {
            let (t0, t1) = (top.thresholds[5], top.thresholds[6]);
            let (o0, o1) = (top.offsets[5], top.offsets[6]);
            unsafe {
                step(&mut slots, |g, slot| {
                    let o = _mm512_permutex2var_epi32(o0, slot, o1);
                    (
                        _mm512_permutex2var_ps(t0, slot, t1),
                        gather_x(blocks[g], o, block_len),
                    )
                })
            };
        }
        if D > 6 {
            let (t, o) = unsafe { (thresholds.add(63), offsets.add(63)) };
            unsafe {
                step(&mut slots, |g, slot| {
                    let high = bit(slot, 32);
                    let x = gather_x(blocks[g], table64_epi32(slot, high, o), block_len);
                    (table64_ps(slot, high, t), x)
                })
            };
        }
        if D > 7 {
            let (t, o) = unsafe { (thresholds.add(127), offsets.add(127)) };
            unsafe {
                step(&mut slots, |g, slot| {
                    let (b5, b6) = (bit(slot, 32), bit(slot, 64));
                    let low = table64_epi32(slot, b5, o);
                    let up = table64_epi32(slot, b5, o.add(64));
                    let x = gather_x(blocks[g], _mm512_mask_blend_epi32(b6, low, up), block_len);
                    let low = table64_ps(slot, b5, t);
                    let up = table64_ps(slot, b5, t.add(64));
                    (_mm512_mask_blend_ps(b6, low, up), x)
                })
            };
        }
        for level in 8..D {
            let at = (1usize << level) - 1;
            let (t, o) = unsafe { (thresholds.add(at), offsets.add(at)) };
            unsafe {
                step(&mut slots, |g, slot| {
                    let x = gather_x(blocks[g], _mm512_i32gather_epi32::<4>(slot, o), block_len);
                    (_mm512_i32gather_ps::<4>(slot, t), x)
                })
            };
        }
        for (g, slot) in slots.into_iter().enumerate() {
            let low = _mm512_castsi512_si256(slot);
            let high = _mm512_extracti64x4_epi64::<1>(slot);
            unsafe {
                let sum = sums.as_mut_ptr().add((first + g) * LANES);
                let low =
                    _mm512_add_pd(_mm512_loadu_pd(sum), _mm512_i32gather_pd::<8>(low, leaves));
                _mm512_storeu_pd(sum, low);
                let sum = sum.add(8);
                let high =
                    _mm512_add_pd(_mm512_loadu_pd(sum), _mm512_i32gather_pd::<8>(high, leaves));
                _mm512_storeu_pd(sum, high);
            }
        }
    }

    /// One level for `G` blocks: `cut(g, slot)` gives each lane's threshold and feature value;
    /// the slot moves to `2 × slot + [x >= threshold]`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn step<const G: usize>(
        slots: &mut [__m512i; G],
        cut: impl Fn(usize, __m512i) -> (__m512, __m512),
    ) {
        let one = _mm512_set1_epi32(1);
        for (g, slot) in slots.iter_mut().enumerate() {
            let (threshold, x) = cut(g, *slot);
            let right = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, threshold);
            let doubled = _mm512_add_epi32(*slot, *slot);
            *slot = _mm512_mask_add_epi32(doubled, right, doubled, one);
        }
    }

    /// Each lane's value at `offset + lane` of its block.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn gather_x(block: *const f32, offset: __m512i, block_len: usize) -> __m512 {
        if block_len <= SMALL_DIMS * LANES {
            let mut x = _mm512_setzero_ps();
            let mut at = 0;
            while at < block_len {
                let here = _mm512_cmpeq_epi32_mask(offset, _mm512_set1_epi32(at as i32));
                x = unsafe { _mm512_mask_loadu_ps(x, here, block.add(at)) };
                at += LANES;
            }
            return x;
        }
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        unsafe { _mm512_i32gather_ps::<4>(_mm512_add_epi32(offset, lane), block) }
    }

    /// Entry `slot` (< 64) of 64 f32 at `table`; `high` is the slot's bit 5.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn table64_ps(slot: __m512i, high: __mmask16, table: *const f32) -> __m512 {
        unsafe {
            let low = _mm512_permutex2var_ps(
                _mm512_loadu_ps(table),
                slot,
                _mm512_loadu_ps(table.add(16)),
            );
            let up = _mm512_permutex2var_ps(
                _mm512_loadu_ps(table.add(32)),
                slot,
                _mm512_loadu_ps(table.add(48)),
            );
            _mm512_mask_blend_ps(high, low, up)
        }
    }

    /// [`table64_ps`] for i32 entries.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn table64_epi32(slot: __m512i, high: __mmask16, table: *const i32) -> __m512i {
        unsafe {
            let load = |at: usize| _mm512_loadu_si512(table.add(at).cast());
            let low = _mm512_permutex2var_epi32(load(0), slot, load(16));
            let up = _mm512_permutex2var_epi32(load(32), slot, load(48));
            _mm512_mask_blend_epi32(high, low, up)
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX-512 kernel's walk on eight lanes: each 16-row block is walked as two halves.
    //! Levels 0–3 pick cuts with in-register permutes (eight slots fit one vector), deeper
    //! levels gather them; feature values are always gathered.

    use std::arch::x86_64::*;

    use super::{AxisForest, LANES, cut_stride};

    /// Half-blocks moved through a tree together (AVX2 has 16 vector registers, not 32).
    const GROUP: usize = 4;

    /// Levels whose cuts are picked with in-register permutes (level 3's eight cuts fill one
    /// vector); deeper levels gather them. Measured on a Zen 3 EPYC (`anomaly-bench odds
    /// --kernel avx2`, 2026-11-29, two runs each alternating), against three levels: −1% to
    /// +18% a set, +9% median; level 4 permuted as well (two vectors and a blend) gained
    /// nothing more, and level 5 (four vectors, three blends) lost 20–30% against gathering.
    const TOP_LEVELS: usize = 4;

    /// # Safety
    /// As for `avx512::add_trees`, with AVX2 in place of AVX-512F: the 8-wide loads of levels
    /// 0–3 start at `2^l − 1 ≤ 7` and end before 64 ≤ `cut_stride`; every gathered index is a
    /// cut slot, a leaf index or a feature offset plus a lane, inside its block half.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn add_trees(forest: &AxisForest, xs: &[f32], sums: &mut [f64]) {
        // SAFETY: the caller's contract is this function's.
        unsafe { by_depth!(forest.depth, add_trees_at(forest, xs, sums)) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn add_trees_at<const D: u32>(forest: &AxisForest, xs: &[f32], sums: &mut [f64]) {
        let stride = cut_stride(D);
        let block_len = forest.block_len();
        let halves = sums.len() / LANES * 2;
        for tree in 0..forest.trees {
            // SAFETY: see `add_trees`.
            let thresholds = unsafe { forest.thresholds.as_ptr().add(tree * stride) };
            let offsets = unsafe { forest.offsets.as_ptr().add(tree * stride) };
            let leaves = unsafe { forest.leaves.as_ptr().add(tree << D) };
            let mut top_t = [_mm256_setzero_ps(); TOP_LEVELS];
            let mut top_o = [_mm256_setzero_si256(); TOP_LEVELS];
            for (level, at) in [0, 1, 3, 7].into_iter().enumerate() {
                unsafe {
                    top_t[level] = _mm256_loadu_ps(thresholds.add(at));
                    top_o[level] = _mm256_loadu_si256(offsets.add(at).cast());
                }
            }
            let tables = Tables {
                top_t,
                top_o,
                thresholds,
                offsets,
                leaves,
            };
            let mut half = 0;
            while half + GROUP <= halves {
                unsafe { walk::<D, GROUP>(&tables, xs, block_len, half, sums) };
                half += GROUP;
            }
            while half < halves {
                unsafe { walk::<D, 1>(&tables, xs, block_len, half, sums) };
                half += 1;
            }
        }
    }

    /// One tree's cuts: levels 0–3 in registers, the rest behind pointers.
    struct Tables {
        top_t: [__m256; TOP_LEVELS],
        top_o: [__m256i; TOP_LEVELS],
        thresholds: *const f32,
        offsets: *const i32,
        leaves: *const f64,
    }

    /// Moves half-blocks `first..first + G` through one tree and adds their leaves to `sums`.
    #[target_feature(enable = "avx2")]
    unsafe fn walk<const D: u32, const G: usize>(
        tables: &Tables,
        xs: &[f32],
        block_len: usize,
        first: usize,
        sums: &mut [f64],
    ) {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        // Half `h` of block `b` starts at lane 8·(h mod 2) of the block's columns.
        let bases: [*const f32; G] = std::array::from_fn(|g| {
            let half = first + g;
            unsafe { xs.as_ptr().add(half / 2 * block_len + half % 2 * 8) }
        });
        let mut slots = [_mm256_setzero_si256(); G];
        for level in 0..D {
            for g in 0..G {
                let slot = slots[g];
                let (threshold, offset) = if (level as usize) < TOP_LEVELS {
                    (
                        _mm256_permutevar8x32_ps(tables.top_t[level as usize], slot),
                        _mm256_permutevar8x32_epi32(tables.top_o[level as usize], slot),
                    )
                } else {
                    let at = (1usize << level) - 1;
                    unsafe {
                        (
                            _mm256_i32gather_ps::<4>(tables.thresholds.add(at), slot),
                            _mm256_i32gather_epi32::<4>(tables.offsets.add(at), slot),
                        )
                    }
                };
                let index = _mm256_add_epi32(offset, lane);
                let x = unsafe { _mm256_i32gather_ps::<4>(bases[g], index) };
                // All ones (−1) where the row goes to the second child.
                let right = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(x, threshold));
                slots[g] = _mm256_sub_epi32(_mm256_add_epi32(slot, slot), right);
            }
        }
        for (g, slot) in slots.into_iter().enumerate() {
            unsafe {
                let sum = sums.as_mut_ptr().add((first + g) * 8);
                let low = _mm256_i32gather_pd::<8>(tables.leaves, _mm256_castsi256_si128(slot));
                _mm256_storeu_pd(sum, _mm256_add_pd(_mm256_loadu_pd(sum), low));
                let sum = sum.add(4);
                let high =
                    _mm256_i32gather_pd::<8>(tables.leaves, _mm256_extracti128_si256::<1>(slot));
                _mm256_storeu_pd(sum, _mm256_add_pd(_mm256_loadu_pd(sum), high));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_agree_with_the_crates_test_for_every_nearby_f32() {
        for p in [
            0.1, -0.1, 1.0, -1.0, 0.0, 1e-40, 3.3, 1e30, -7.75, 16777217.0,
        ] {
            for strictly_above in [true, false] {
                let t = threshold(p, strictly_above);
                let mut x = (p as f32).next_down().next_down();
                for _ in 0..5 {
                    let want = if strictly_above {
                        f64::from(x) > p
                    } else {
                        f64::from(x) >= p
                    };
                    assert_eq!(x >= t, want, "p {p} x {x} t {t} above {strictly_above}");
                    x = x.next_up();
                }
            }
        }
    }
}
