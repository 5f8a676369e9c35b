//! Criterion benchmark of the cold Parquet path: read, decode and validate 100k bid/ask bars.

#![allow(missing_docs)]

use std::sync::Arc;

use arrow_array::{Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use criterion::{Criterion, criterion_group, criterion_main};
use omega_data::load_bid_ask_uncached;
use omega_types::Timeframe;
use parquet::arrow::ArrowWriter;

fn write(path: &std::path::Path, n: usize, add: f64) {
    let schema = Arc::new(Schema::new(
        ["timestamp", "open", "high", "low", "close"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Field::new(*name, if i == 0 { DataType::Int64 } else { DataType::Float64 }, false)
            })
            .collect::<Vec<_>>(),
    ));
    let mut price = 1.1f64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let (mut o, mut h, mut l, mut c) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let next = price + ((state % 41) as f64 - 20.0) * 1e-5;
        o.push(price + add);
        c.push(next + add);
        h.push(price.max(next) + 0.0001 + add);
        l.push(price.min(next) - 0.0001 + add);
        price = next;
    }
    let ts: Vec<i64> = (0..n as i64).map(|i| 1_704_067_200_000_000_000 + i * 300_000_000_000).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ts)),
            Arc::new(Float64Array::from(o)),
            Arc::new(Float64Array::from(h)),
            Arc::new(Float64Array::from(l)),
            Arc::new(Float64Array::from(c)),
        ],
    )
    .expect("batch");
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).expect("file"), schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("EURUSD_M5_BID.parquet"), 100_000, 0.0);
    write(&dir.path().join("EURUSD_M5_ASK.parquet"), 100_000, 0.0002);
    let mut group = c.benchmark_group("parquet_load");
    group.sample_size(20);
    group.bench_function("bid_ask_100k_bars_uncached", |b| {
        b.iter(|| load_bid_ask_uncached(dir.path(), "EURUSD", Timeframe::M5).expect("load"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
