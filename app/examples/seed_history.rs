//! Writes a class history file with the shared codec, for the app's benchmark and e2e specs.
//!
//! `cargo run -p alleycat-app --example seed_history --target x86_64-unknown-linux-gnu -- \
//!     <out.gz> [racers=6667] [seconds=300] [class=3] [races=10]`
//!
//! Personal bests come from the deterministic ride model, as the ingest benchmark's do; every
//! fifth racer rides every other race on a real bike, so the file carries real-bike marks.

use alleycat_domain::{history::ClassBests, output::to_centi, ride::RiderProfile};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out =
        args.first().expect("usage: seed_history <out.gz> [racers] [seconds] [class] [races]");
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (racers, seconds, class, races) =
        (arg(1, 6_667), arg(2, 300) as u32, arg(3, 3) as u8, arg(4, 10));
    let mut bests = ClassBests::new(class, seconds);
    for racer in 1..=racers {
        let profile = RiderProfile::new(2026, racer);
        for race in 0..races {
            let ride = profile.race(5_880_000 + race * 7 + racer % 5, seconds);
            let real_bike = racer % 5 == 0 && race % 2 == 0;
            for second in 1..=seconds {
                let centi = to_centi(ride.at(second).output());
                bests.improve_ridden(racer, second, centi, real_bike);
            }
        }
    }
    let bytes = bests.encode();
    std::fs::write(out, &bytes).expect("writing the history file");
    eprintln!("wrote {out}: {racers} racers x {seconds} s, class {class}, {} bytes", bytes.len());
}
