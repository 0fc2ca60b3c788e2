//! The messages log: each second's event and its fate (`logic::outbox`).

use leptos::prelude::*;

use crate::logic::{
    format,
    outbox::{Fate, Outbox},
};

/// The events ridden this race, newest first.
#[component]
pub fn MessageLog(
    /// The events sent and their fates.
    #[prop(into)]
    outbox: Signal<Outbox>,
) -> impl IntoView {
    let counts = move || {
        outbox.with(|o| {
            format!(
                "{} acknowledged · {} waiting · {} refused",
                o.acknowledged(),
                o.waiting(),
                o.lost()
            )
        })
    };
    view! {
        <section class="panel log-panel" aria-labelledby="log-title">
            <div class="panel-head">
                <h2 class="panel-title" id="log-title">"Messages"</h2>
                <span class="muted small">{counts}</span>
            </div>
            <ol class="log" role="log" aria-live="off" aria-label="Messages sent to the server">
                <For each=move || outbox.with(|o| o.entries().to_vec()) key=|e| (e.second, format!("{:?}", e.fate)) let:e>
                    <li title=match &e.fate {
                        Fate::Acknowledged { shard, sequence } => format!("{shard}, sequence number {sequence}"),
                        _ => String::new(),
                    } class=format!("log-entry {}", match e.fate {
                        Fate::Waiting | Fate::Sent | Fate::Retrying { .. } => "sent",
                        Fate::Acknowledged { .. } => "ok",
                        Fate::Rejected { .. } => "bad",
                    })>
                        <span class="log-second num">{format!("s{}", e.second)}</span>
                        <span class="log-kind">{if e.last { "final" } else { "update" }}</span>
                        <span class="log-out num">{format::output(e.output)}</span>
                        <span class="log-fate">{match e.fate.clone() {
                            Fate::Waiting => "waiting to be sent".to_owned(),
                            Fate::Sent => "sent…".to_owned(),
                            Fate::Retrying { reason } => format!("waiting to be sent again · {reason}"),
                            Fate::Acknowledged { shard, .. } if shard.is_empty() => "acknowledged · stored before".to_owned(),
                            Fate::Acknowledged { shard, sequence } => format!("acknowledged · {} · seq {}", short_shard(&shard), short_sequence(&sequence)),
                            Fate::Rejected { code, message } => format!("rejected · {code}: {message}"),
                        }}</span>
                    </li>
                </For>
            </ol>
        </section>
    }
}

/// `shardId-000000000003` as `shard 3`.
pub fn short_shard(shard: &str) -> String {
    match shard.rsplit('-').next().and_then(|n| n.parse::<u64>().ok()) {
        Some(n) => format!("shard {n}"),
        None => shard.to_owned(),
    }
}

/// A Kinesis-style sequence number (dozens of digits) as its last eight, which is what tells
/// neighbours apart; the full number is in the entry's tooltip.
pub fn short_sequence(sequence: &str) -> String {
    if sequence.len() > 10 {
        format!("…{}", &sequence[sequence.len() - 8..])
    } else {
        sequence.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_and_sequence_numbers_read_short() {
        assert_eq!(short_shard("shardId-000000000003"), "shard 3");
        assert_eq!(short_shard("odd"), "odd");
        assert_eq!(
            short_sequence("49590338271490256608559692538361571095921575989136588898"),
            "…36588898"
        );
        assert_eq!(short_sequence("1002"), "1002");
    }
}
