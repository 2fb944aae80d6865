//! What every suite shares: sampling a closure, quantiles, and the rows of a table.

/// `f` timed `iterations` times (after one run to warm caches), sorted.
pub fn sample<T, E>(
    iterations: u32,
    mut f: impl FnMut() -> Result<T, E>,
) -> Result<Vec<std::time::Duration>, E> {
    std::hint::black_box(f()?);
    let mut times = (0..iterations.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            let result = f();
            let elapsed = start.elapsed();
            std::hint::black_box(result).map(|_| elapsed)
        })
        .collect::<Result<Vec<_>, E>>()?;
    times.sort();
    Ok(times)
}

/// The heading of a table of [`row`]s.
pub fn row_heading(label: &str) {
    println!("{label:<24} {:>10} {:>10} {:>10}", "min", "median", "p95");
}

/// A table row: the label, then min, median and p95 of sorted times.
pub fn row(label: &str, sorted: &[std::time::Duration]) {
    let (min, median, p95) = quantiles(sorted);
    println!(
        "{label:<24} {:>10} {:>10} {:>10}",
        format!("{min:.2?}"),
        format!("{median:.2?}"),
        format!("{p95:.2?}")
    );
}

/// The build of xtask the numbers come from.
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Min, median and p95 of sorted samples.
pub fn quantiles<T: Copy>(sorted: &[T]) -> (T, T, T) {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (sorted[0], at(0.5), at(0.95))
}
