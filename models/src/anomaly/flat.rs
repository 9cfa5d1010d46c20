//! A trained `extended-isolation-forest` compiled into flat arrays for fast scoring.
//!
//! The crate keeps each tree as boxed nodes and evaluates every cut as a full N-dimensional
//! dot product, recursing to the leaf and computing the leaf's `c(n)` (a logarithm) on every
//! visit. At extension level 0 — our default — each cut has one non-zero coefficient, so
//! that is N times the arithmetic a cut needs, plus a pointer chase per level. Scoring is
//! the streaming path's per-row cost, so a trained forest is compiled once into:
//! - one node array per forest in depth-first order (a node's left child is the next node;
//!   the right child's index is stored), 32 bytes a node;
//! - for each cut only its non-zero coefficients (one at extension level 0);
//! - for each leaf its whole path length, precomputed.
//!
//! **Same scores, bit for bit**, for finite features: a cut sums `(x_i − p_i)·n_i` over the
//! coefficients in the crate's order, skipping terms whose `n_i` is zero (they add ±0, which
//! changes no sum and no `<= 0` test); a leaf's path length is built with the crate's own
//! nesting (`1 + (1 + (… + c(n)))`), and the per-tree lengths are summed in tree order as the
//! crate does. The tests compare every score with the crate's. (A NaN feature would reach
//! the crate's sum through a zero coefficient and not here; features are never NaN.) Across
//! builds with different optimisation the final `2^x` may differ in its last bit, because
//! LLVM may turn `powf(2, x)` into `exp2(x)`; the path lengths, and so every decision, do not.
//!
//! Axis-parallel forests (extension level 0) are also laid out as complete trees for
//! branch-free scoring ([`super::axis`]); [`FlatForest::score_many`] uses that layout, and
//! for them both scoring functions **round inputs to f32** first (as scikit-learn's trees
//! do), so a row gets the same score from either. For inputs that are f32 values — the
//! detection job's quantized features are — that is still the crate's score bit for bit.
//!
//! The forest is read through its serde form (the crate exposes no other view of its trees),
//! once, when a model is trained or loaded.

use extended_isolation_forest::Forest;
use serde_json::Value;

use super::axis::{AxisForest, Kernel, LANES};

/// Marks a leaf in [`FlatNode::kind`].
const LEAF: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct FlatNode {
    /// `LEAF`, or the index of the first coefficient in [`FlatForest::terms`].
    kind: u32,
    /// Coefficients of the cut (0 for a leaf).
    count: u32,
    /// Index of the right child (the left child is the next node).
    right: u32,
    /// A leaf's path length.
    value: f64,
}

#[derive(Clone, Copy, Debug)]
struct Term {
    feature: u32,
    n: f64,
    p: f64,
}

/// A compiled forest; see the module documentation.
#[derive(Clone, Debug)]
pub struct FlatForest {
    nodes: Vec<FlatNode>,
    terms: Vec<Term>,
    roots: Vec<u32>,
    avg_path_length_c: f64,
    dims: usize,
    /// The complete-tree layout, for axis-parallel forests.
    axis: Option<AxisForest>,
}

/// One step of a compiled tree, as other layouts read it.
pub(crate) enum Step {
    /// A leaf and its path length.
    Leaf(f64),
    /// A cut on at most one feature: `(feature, n, p)` (none: every row goes left), and the
    /// node indices of its children.
    Axis {
        term: Option<(usize, f64, f64)>,
        left: usize,
        right: usize,
    },
    /// A cut over several features.
    Oblique,
}

/// A read-only walk over one compiled tree.
pub(crate) struct LeafWalk<'a> {
    forest: &'a FlatForest,
    root: usize,
    depth: u32,
}

impl LeafWalk<'_> {
    /// Index of the root node.
    pub(crate) fn root(&self) -> usize {
        self.root
    }

    /// Depth of the deepest leaf.
    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    /// What node `at` is.
    pub(crate) fn step(&self, at: usize) -> Step {
        let node = self.forest.nodes[at];
        if node.kind == LEAF {
            return Step::Leaf(node.value);
        }
        let term = match node.count {
            0 => None,
            1 => {
                let t = self.forest.terms[node.kind as usize];
                Some((t.feature as usize, t.n, t.p))
            }
            _ => return Step::Oblique,
        };
        Step::Axis {
            term,
            left: at + 1,
            right: node.right as usize,
        }
    }
}

/// The forest's serde form was not what this module reads (a new crate version).
#[derive(Debug, thiserror::Error)]
#[error("cannot compile the isolation forest: {0}")]
pub struct CompileError(String);

impl FlatForest {
    /// Compiles a trained forest.
    pub fn compile<const N: usize>(forest: &Forest<f64, N>) -> Result<FlatForest, CompileError> {
        let value = serde_json::to_value(forest).map_err(|e| CompileError(e.to_string()))?;
        let avg_path_length_c = value
            .get("avg_path_length_c")
            .and_then(Value::as_f64)
            .ok_or_else(|| CompileError("no avg_path_length_c".into()))?;
        let trees = value
            .get("trees")
            .and_then(Value::as_array)
            .ok_or_else(|| CompileError("no trees".into()))?;
        let mut flat = FlatForest {
            nodes: Vec::new(),
            terms: Vec::new(),
            roots: Vec::with_capacity(trees.len()),
            avg_path_length_c,
            dims: N,
            axis: None,
        };
        for tree in trees {
            let root = tree
                .get("root")
                .ok_or_else(|| CompileError("a tree without a root".into()))?;
            flat.roots.push(index(flat.nodes.len())?);
            flat.push_node(root, 0)?;
        }
        let walks: Vec<LeafWalk<'_>> = flat
            .roots
            .iter()
            .map(|&root| LeafWalk {
                forest: &flat,
                root: root as usize,
                depth: flat.depth_below(root as usize),
            })
            .collect();
        let axis = AxisForest::build(N, &walks);
        flat.axis = axis;
        Ok(flat)
    }

    fn depth_below(&self, at: usize) -> u32 {
        let node = self.nodes[at];
        if node.kind == LEAF {
            return 0;
        }
        1 + self
            .depth_below(at + 1)
            .max(self.depth_below(node.right as usize))
    }

    /// Whether the forest is axis-parallel and so scored branch-free, inputs rounded to f32.
    pub fn is_axis_parallel(&self) -> bool {
        self.axis.is_some()
    }

    fn push_node(&mut self, node: &Value, depth: u32) -> Result<(), CompileError> {
        if let Some(leaf) = node.get("Ex") {
            let samples = leaf
                .get("num_samples")
                .and_then(Value::as_u64)
                .ok_or_else(|| CompileError("a leaf without num_samples".into()))?;
            self.nodes.push(FlatNode {
                kind: LEAF,
                count: 0,
                right: 0,
                value: leaf_path_length(samples as usize, depth),
            });
            return Ok(());
        }
        let cut = node
            .get("In")
            .ok_or_else(|| CompileError("a node that is neither Ex nor In".into()))?;
        let coefficients = |name: &str| -> Result<Vec<f64>, CompileError> {
            cut.get(name)
                .and_then(Value::as_array)
                .ok_or_else(|| CompileError(format!("a cut without {name}")))?
                .iter()
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| CompileError(format!("{name} is not numeric")))
                })
                .collect()
        };
        let (n, p) = (coefficients("n")?, coefficients("p")?);
        if n.len() != self.dims || p.len() != self.dims {
            return Err(CompileError(format!(
                "a cut has {} coefficients for {} features",
                n.len(),
                self.dims
            )));
        }
        let first = index(self.terms.len())?;
        for (feature, (&n, &p)) in n.iter().zip(&p).enumerate() {
            if n != 0.0 {
                self.terms.push(Term {
                    feature: index(feature)?,
                    n,
                    p,
                });
            }
        }
        let at = self.nodes.len();
        self.nodes.push(FlatNode {
            kind: first,
            count: index(self.terms.len())? - first,
            right: 0,
            value: 0.0,
        });
        let (left, right) = match (cut.get("left"), cut.get("right")) {
            (Some(left), Some(right)) => (left, right),
            _ => return Err(CompileError("a cut without both children".into())),
        };
        self.push_node(left, depth + 1)?;
        self.nodes[at].right = index(self.nodes.len())?;
        self.push_node(right, depth + 1)
    }

    /// Features per row.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The anomaly score of one row (`x.len()` must be [`FlatForest::dims`]): the crate's
    /// `Forest::score`, of the row rounded to f32 when the forest is axis-parallel.
    pub fn score(&self, x: &[f64]) -> f64 {
        debug_assert_eq!(x.len(), self.dims);
        let rounded: Vec<f64>;
        let x = if self.axis.is_some() {
            rounded = rounded_to_f32(x);
            &rounded
        } else {
            x
        };
        let path_length: f64 = self.roots.iter().map(|&root| self.path(root, x)).sum();
        self.from_path_length_sum(path_length)
    }

    fn from_path_length_sum(&self, sum: f64) -> f64 {
        let eh = sum / self.roots.len() as f64;
        2.0_f64.powf(-eh / self.avg_path_length_c)
    }

    /// The scores of many rows, each as [`FlatForest::score`] would give it, with the
    /// fastest kernel this CPU runs.
    pub fn score_many(&self, rows: &[&[f64]]) -> Vec<f64> {
        self.score_many_with(rows, Some(Kernel::best()))
    }

    /// [`FlatForest::score_many`] on up to `threads` threads, each scoring a contiguous
    /// share of at least 4,096 rows; the same scores, since rows are independent.
    pub fn score_many_parallel(&self, rows: &[&[f64]], threads: usize) -> Vec<f64> {
        const MIN_SHARE: usize = 4096;
        let threads = threads.clamp(1, rows.len().div_ceil(MIN_SHARE).max(1));
        if threads == 1 {
            return self.score_many(rows);
        }
        let share = rows.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = rows
                .chunks(share)
                .map(|part| scope.spawn(move || self.score_many(part)))
                .collect();
            parts
                .into_iter()
                .flat_map(|part| part.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    /// [`FlatForest::score_many`] with a chosen kernel (`None`: the node walk, which
    /// extended forests always use). For benchmarks and tests.
    pub fn score_many_with(&self, rows: &[&[f64]], kernel: Option<Kernel>) -> Vec<f64> {
        match (&self.axis, kernel) {
            (Some(axis), Some(kernel)) => self.score_axis(axis, rows, kernel),
            _ => self.score_walking(rows),
        }
    }

    /// Transposes a chunk of rows at a time (~128 KB of f32) into blocks and adds every
    /// tree's path lengths over the chunk. Rows with a NaN feature are scored by the node
    /// walk, which sends NaN where the crate does.
    fn score_axis(&self, axis: &AxisForest, rows: &[&[f64]], kernel: Kernel) -> Vec<f64> {
        let block_len = axis.block_len();
        let chunk_blocks = (128 * 1024 / (4 * block_len)).clamp(4, 256);
        let mut xs = vec![0.0_f32; chunk_blocks * block_len];
        let mut sums = vec![0.0_f64; chunk_blocks * LANES];
        let mut scores = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(chunk_blocks * LANES) {
            let blocks = chunk.len().div_ceil(LANES);
            let xs = &mut xs[..blocks * block_len];
            let mut nan = false;
            for (block_rows, block) in chunk.chunks(LANES).zip(xs.chunks_exact_mut(block_len)) {
                nan |= axis.transpose(block_rows, block);
            }
            let sums = &mut sums[..blocks * LANES];
            sums.fill(-0.0);
            axis.add_path_lengths(xs, sums, kernel);
            for (x, &sum) in chunk.iter().zip(sums.iter()) {
                scores.push(if nan && x.iter().any(|v| v.is_nan()) {
                    self.score(x)
                } else {
                    self.from_path_length_sum(sum)
                });
            }
        }
        scores
    }

    /// The node walk, tree by tree over blocks of rows: one tree's nodes (~16 KB) stay in
    /// the L1 cache for a whole block instead of every row walking all trees (~1.6 MB for
    /// 100). Per row the path lengths are still added in tree order, so the sums are the
    /// same as [`FlatForest::score`]'s.
    fn score_walking(&self, rows: &[&[f64]]) -> Vec<f64> {
        const BLOCK: usize = 512;
        let rounded: Vec<Vec<f64>>;
        let rows: Vec<&[f64]> = if self.axis.is_some() {
            rounded = rows.iter().map(|x| rounded_to_f32(x)).collect();
            rounded.iter().map(Vec::as_slice).collect()
        } else {
            rows.to_vec()
        };
        let mut scores = Vec::with_capacity(rows.len());
        let mut sums = [0.0_f64; BLOCK];
        for block in rows.chunks(BLOCK) {
            let sums = &mut sums[..block.len()];
            sums.fill(-0.0);
            for &root in &self.roots {
                for (sum, x) in sums.iter_mut().zip(block) {
                    *sum += self.path(root, x);
                }
            }
            scores.extend(sums.iter().map(|&sum| self.from_path_length_sum(sum)));
        }
        scores
    }

    fn path(&self, root: u32, x: &[f64]) -> f64 {
        let mut at = root as usize;
        loop {
            let node = self.nodes[at];
            if node.kind == LEAF {
                return node.value;
            }
            let first = node.kind as usize;
            let direction = self.terms[first..first + node.count as usize]
                .iter()
                .fold(0.0, |sum, t| sum + (x[t.feature as usize] - t.p) * t.n);
            at = if direction <= 0.0 {
                at + 1
            } else {
                node.right as usize
            };
        }
    }
}

/// A row as the axis-parallel kernels see it: each value rounded to f32.
fn rounded_to_f32(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v as f32)).collect()
}

fn index(value: usize) -> Result<u32, CompileError> {
    u32::try_from(value).map_err(|_| CompileError("the forest is too large".into()))
}

/// The crate's path length for a leaf at `depth` holding `samples` training rows: `c(n)`
/// (0 for n ≤ 1) with 1 added once per level, innermost first, as its recursion does.
fn leaf_path_length(samples: usize, depth: u32) -> f64 {
    let mut length = if samples <= 1 { 0.0 } else { c_factor(samples) };
    for _ in 0..depth {
        length += 1.0; // IEEE addition commutes, so this is the crate's `1.0 + length`
    }
    length
}

/// The crate's `c_factor`, written the same way so it rounds the same way.
fn c_factor(n: usize) -> f64 {
    2.0 * ((n as f64 - 1.0).log(std::f64::consts::E) + 0.577_215_664_9)
        - (2.0 * (n as f64 - 1.0) / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use extended_isolation_forest::ForestOptions;

    /// A deterministic spread of points with a few far out.
    fn points<const N: usize>(count: usize) -> Vec<[f64; N]> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..count)
            .map(|i| {
                let mut row = [0.0; N];
                for value in &mut row {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    *value = (state % 10_000) as f64 / 1_000.0;
                    if i % 97 == 0 {
                        *value *= 25.0;
                    }
                }
                row
            })
            .collect()
    }

    /// Every kernel this CPU runs, `None` being the node walk.
    fn kernels() -> Vec<Option<Kernel>> {
        let mut kernels = vec![None, Some(Kernel::Portable)];
        if Kernel::avx2_available() {
            kernels.push(Some(Kernel::Avx2));
        }
        if Kernel::avx512_available() {
            kernels.push(Some(Kernel::Avx512));
        }
        kernels
    }

    fn same_scores<const N: usize>(extension_level: usize, sample_size: usize) {
        let data = points::<N>(sample_size.max(600));
        let options = ForestOptions {
            n_trees: 50,
            sample_size,
            max_tree_depth: None,
            extension_level,
        };
        let forest = Forest::from_slice(&data, &options).unwrap();
        let flat = FlatForest::compile(&forest).unwrap();
        assert_eq!(flat.dims(), N);
        let axis = extension_level == 0;
        assert_eq!(flat.is_axis_parallel(), axis);
        // Axis-parallel forests score the row rounded to f32.
        let as_scored = |row: &[f64; N]| {
            if axis {
                row.map(|v| f64::from(v as f32))
            } else {
                *row
            }
        };
        for row in points::<N>(900).iter().skip(300) {
            let expected = forest.score(&as_scored(row));
            let got = flat.score(row);
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "{row:?}: {got} vs {expected}"
            );
        }
        // 1,500 rows: full chunks of blocks, a partial group and a partial block.
        let mut rows = points::<N>(1500);
        rows[77][N - 1] = f64::NAN; // the crate sends NaN right; the kernels leave it to the walk
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        for kernel in kernels() {
            let many = flat.score_many_with(&refs, kernel);
            assert_eq!(many.len(), rows.len());
            for (row, got) in rows.iter().zip(many) {
                let expected = flat.score(row);
                assert_eq!(got.to_bits(), expected.to_bits(), "{kernel:?} {row:?}");
                if !row.iter().any(|v| v.is_nan()) {
                    assert_eq!(expected.to_bits(), forest.score(&as_scored(row)).to_bits());
                }
            }
        }
    }

    #[test]
    fn axis_parallel_forests_of_any_depth_score_alike_on_every_kernel() {
        // Depths 4 (top cuts only), 7, 9 and 11 (gathered cuts), and one feature.
        same_scores::<3>(0, 16);
        same_scores::<9>(0, 128);
        same_scores::<6>(0, 512);
        same_scores::<1>(0, 2048);
    }

    #[test]
    fn axis_parallel_forests_score_f32_inputs_exactly_like_the_crate() {
        // Values on a 2^-10 grid are f32 values: no rounding, the crate's own scores.
        let grid = |count: usize| -> Vec<[f64; 4]> {
            points::<4>(count)
                .into_iter()
                .map(|row| row.map(|v| (v * 1024.0).round() / 1024.0))
                .collect()
        };
        let forest = Forest::from_slice(
            &grid(1000),
            &ForestOptions {
                n_trees: 100,
                sample_size: 256,
                max_tree_depth: None,
                extension_level: 0,
            },
        )
        .unwrap();
        let flat = FlatForest::compile(&forest).unwrap();
        let rows = grid(10_000);
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        for kernel in kernels() {
            for (row, got) in rows.iter().zip(flat.score_many_with(&refs, kernel)) {
                assert_eq!(
                    got.to_bits(),
                    forest.score(row).to_bits(),
                    "{kernel:?} {row:?}"
                );
            }
        }
        let parallel = flat.score_many_parallel(&refs, 3);
        assert_eq!(parallel.len(), rows.len());
        for (row, got) in rows.iter().zip(parallel) {
            assert_eq!(
                got.to_bits(),
                forest.score(row).to_bits(),
                "3 threads {row:?}"
            );
        }
    }

    #[test]
    fn axis_parallel_forests_score_bit_for_bit_like_the_crate() {
        same_scores::<9>(0, 256);
        same_scores::<2>(0, 128);
    }

    #[test]
    fn extended_forests_score_bit_for_bit_like_the_crate() {
        same_scores::<9>(8, 128);
        same_scores::<5>(2, 128);
    }
}
