//! Criterion benchmarks of the indicator kernels on 1M bars.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use omega_indicators::{ema, rolling_zscore, wilder_atr};

fn prices(n: usize) -> Vec<f64> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut price = 1.1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            price += ((state % 81) as f64 - 40.0) * 1e-5;
            price
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let close = prices(1_000_000);
    let high: Vec<f64> = close.iter().map(|p| p + 0.0002).collect();
    let low: Vec<f64> = close.iter().map(|p| p - 0.0002).collect();
    let mut group = c.benchmark_group("indicators_1m_bars");
    group.sample_size(20);
    group.bench_function("rolling_zscore_w48", |b| b.iter(|| rolling_zscore(&close, 48)));
    group.bench_function("wilder_atr_14", |b| b.iter(|| wilder_atr(&high, &low, &close, 14)));
    group.bench_function("ema_20", |b| b.iter(|| ema(&close, 20)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
