//! The gate tests' fixture: a fixed amount of arithmetic, which the tests make ten times
//! larger in a head commit to create a clear regression.

/// Iterations of the hot loop. The gate tests rewrite this line (keep its exact form).
pub const WORK: u64 = 2000;

/// The work the benchmarks measure: [`WORK`] rounds of [`fixture_hot_loop`].
pub fn work(seed: u64) -> u64 {
    fixture_hot_loop(seed, WORK)
}

/// A loop the optimiser cannot fold into a closed form (each step depends on the last through
/// a multiplication and a shift). Never inlined, so callgrind attributes its instructions to
/// this distinctive name and the gate's explanation can name it.
#[inline(never)]
pub fn fixture_hot_loop(seed: u64, n_iterations: u64) -> u64 {
    let mut state = seed | 1;
    for step in 0..n_iterations {
        state = state
            .wrapping_mul(0x5851_f42d_4c95_7f2d)
            .wrapping_add(step ^ (state >> 29));
    }
    state
}
