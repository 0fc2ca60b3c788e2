//! History-file benchmark: one class of 6,667 racers × 300 seconds whose personal bests come from
//! backfilling 10 races each with the deterministic ride model; every fifth racer rides every
//! other race on a real bike (same outputs, the bests it sets marked).
//!
//! Run: `cargo bench -p alleycat-ingest --bench history`
//!
//! Prints the gzipped size of our format (with the real-bike marks, and the same bests without
//! them) and of the original Alleycat format on the same data, then times encode (JSON + gzip),
//! decode (gunzip + parse + per-second index) and one ranking step.

use std::{hint::black_box, io::Write, time::Duration};

use alleycat_domain::{
    history::{self, ClassBests},
    output::to_centi,
    ride::RiderProfile,
};
use criterion::{criterion_group, criterion_main, Criterion};

/// Racers in the class (40,000 users over six classes): ids 3, 9, 15, … (class 3's share of
/// the ids 1 to 40,000).
const RACERS: u64 = 6_667;
/// Races backfilled per racer.
const RACES: u64 = 10;
/// Race length.
const SECONDS: u32 = 300;

fn class_bests() -> ClassBests {
    let mut bests = ClassBests::new(3, SECONDS);
    for (i, racer) in (0..RACERS).map(|i| (i, i * 6 + 3)) {
        let profile = RiderProfile::new(2026, racer);
        for race in 0..RACES {
            let ride = profile.race(5_880_000 + race * 7 + racer % 5, SECONDS);
            let real_bike = i % 5 == 0 && race % 2 == 0;
            for second in 1..=SECONDS {
                let centi = to_centi(ride.at(second).output());
                bests.improve_ridden(racer, second, centi, real_bike);
            }
        }
    }
    bests
}

/// The same bests without any real-bike mark (what version 2 could hold).
fn without_marks(bests: &ClassBests) -> ClassBests {
    let mut plain = ClassBests::new(bests.class_id(), bests.race_seconds());
    for (racer, row) in bests.iter() {
        for (i, &centi) in row.iter().enumerate() {
            plain.improve(racer, i as u32 + 1, centi);
        }
    }
    plain
}

fn gzip_default(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("memory");
    e.finish().expect("memory")
}

fn bench(c: &mut Criterion) {
    let bests = class_bests();
    let ours = bests.encode();
    let ours_json = bests.to_json();
    let original_json = bests.to_original_json();
    let original = gzip_default(&original_json);
    let original_best = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&original_json).expect("memory");
        e.finish().expect("memory")
    };
    let plain = without_marks(&bests);
    let marked =
        bests.iter().filter(|&(racer, _)| (1..=SECONDS).any(|s| bests.real_bike(racer, s)));
    eprintln!(
        "history sizes ({RACERS} racers x {SECONDS} s, {} with bests on a real bike): ours {} B \
         gzipped ({} B JSON), the same bests without marks {} B gzipped ({} B JSON); \
         original {} B gzipped at level 6, {} B at level 9 ({} B JSON); \
         ratio ours/original(level 6) = {:.3}",
        marked.count(),
        ours.len(),
        ours_json.len(),
        plain.encode().len(),
        plain.to_json().len(),
        original.len(),
        original_best.len(),
        original_json.len(),
        ours.len() as f64 / original.len() as f64,
    );

    let mut group = c.benchmark_group("history");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("encode 6667x300 (json + gzip)", |b| {
        b.iter(|| black_box(black_box(&bests).encode()))
    });
    group.bench_function("decode 6667x300 (gunzip + parse + index)", |b| {
        b.iter(|| black_box(history::decode(black_box(&ours)).expect("decodes")))
    });
    group.bench_function("gunzip only 6667x300", |b| {
        b.iter(|| black_box(history::gunzip(black_box(&ours), history::MAX_DECODED_BYTES)))
    });
    group.bench_function("rank one second", |b| {
        let h = history::decode(&ours).expect("decodes");
        let mut second = 0;
        b.iter(|| {
            second = second % SECONDS + 1;
            let place = h.rank(second, black_box(13_000));
            black_box(h.ranked(second, place.saturating_sub(10)..place + 10).count())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
