//! The devices panel: connect a bike (trainer or power meter) and a heart-rate strap over Web
//! Bluetooth, see what they send and what the trainer answered; and [`Devices::measure`], what
//! the ride sends for a second when a device is connected.

use alleycat_domain::{Source, HEART_RATE_RANGE, POWER_RANGE};
use leptos::{prelude::*, task::spawn_local};
use std::rc::Rc;

use crate::bluetooth::{self, Handlers, Kind, Reading, Status, Trainer};
pub use crate::logic::ride::Measured;

/// How long a power source may stay silent before its seconds count as zero output.
pub const POWER_STALE_MS: f64 = 2_500.0;

/// The connected devices' state, shared by the panel and the ride.
#[derive(Clone, Copy)]
pub struct Devices {
    bike: RwSignal<Status>,
    heart: RwSignal<Status>,
    /// The bike's last reading and when it came (ms, the browser's clock).
    reading: RwSignal<Option<(Reading, f64)>>,
    /// The strap's last heart rate and when it came.
    pulse: RwSignal<Option<(f64, f64)>>,
    /// The trainer's last answer to a command.
    answer: RwSignal<Option<String>>,
    trainer: StoredValue<Trainer, LocalStorage>,
}

impl Devices {
    /// Nothing connected.
    pub fn new() -> Self {
        Self {
            bike: RwSignal::new(Status::Idle),
            heart: RwSignal::new(Status::Idle),
            reading: RwSignal::new(None),
            pulse: RwSignal::new(None),
            answer: RwSignal::new(None),
            trainer: StoredValue::new_local(Trainer::default()),
        }
    }

    /// What to send for the second at `now_ms` (the browser's clock): with a power source
    /// (connected, or dropped and reconnecting) its power, 0 once it has been silent for
    /// [`POWER_STALE_MS`]; else the simulated bike. Heart rate from the strap or the trainer.
    pub fn measure(&self, now_ms: f64) -> Measured {
        let fresh = |at: f64| now_ms - at <= POWER_STALE_MS;
        let reading = self.reading.get_untracked();
        let source = self.source();
        let live = reading.filter(|&(_, at)| fresh(at)).map(|(r, _)| r);
        let power = source.measures_power().then(|| {
            live.and_then(|r| r.power)
                .unwrap_or(0.0)
                .clamp(*POWER_RANGE.start(), *POWER_RANGE.end())
        });
        let heart_rate = self
            .pulse
            .get_untracked()
            .filter(|&(_, at)| fresh(at))
            .map(|(bpm, _)| bpm)
            .or_else(|| live.and_then(|r| r.heart_rate))
            .filter(|bpm| HEART_RATE_RANGE.contains(bpm));
        let cadence = live.and_then(|r| r.cadence).filter(|_| source.measures_power());
        Measured { source, power, cadence, heart_rate }
    }

    /// Where the ride's seconds come from now (not tracked): the bike's source while it is
    /// connected or reconnecting, else the simulated bike.
    pub fn source(&self) -> Source {
        let riding_a_device =
            matches!(self.bike.get_untracked(), Status::Connected(_) | Status::Reconnecting { .. });
        let reading = self.reading.get_untracked();
        reading.and_then(|(r, _)| r.source).filter(|_| riding_a_device).unwrap_or(Source::Sim)
    }

    fn connect(self, kind: Kind) {
        let status = match kind {
            Kind::Bike => self.bike,
            Kind::HeartRate => self.heart,
        };
        let handlers = Handlers {
            reading: Rc::new(move |r: Reading| {
                let now = js_sys::Date::now();
                match kind {
                    Kind::Bike => self.reading.set(Some((r, now))),
                    Kind::HeartRate => {
                        if let Some(bpm) = r.heart_rate {
                            self.pulse.set(Some((bpm, now)));
                        }
                    }
                }
            }),
            status: Rc::new(move |s: Status| status.set(s)),
            control: Rc::new(move |answer: String| self.answer.set(Some(answer))),
        };
        let trainer = self.trainer.get_value();
        spawn_local(bluetooth::connect(kind, handlers, trainer));
    }
}

impl Default for Devices {
    fn default() -> Self {
        Self::new()
    }
}

fn describe(status: &Status) -> String {
    match status {
        Status::Idle => "not connected".into(),
        Status::Connecting => "connecting…".into(),
        Status::Connected(name) => format!("connected: {name}"),
        Status::Reconnecting { attempt, in_ms } => {
            format!("lost; reconnecting in {} s (attempt {attempt})…", in_ms.div_ceil(1000))
        }
        Status::Failed(why) => format!("could not connect: {why}"),
    }
}

/// The panel. Without Web Bluetooth it says why and the simulated bike rides on.
#[component]
pub fn DevicesPanel(
    /// The devices' state.
    devices: Devices,
    /// The resistance slider, in percent: sent to a trainer that takes commands.
    #[prop(into)]
    resistance: Signal<f64>,
) -> impl IntoView {
    if !bluetooth::available() {
        return view! {
            <section class="panel devices" aria-label="Devices">
                <p class="note muted small" role="status" data-testid="no-bluetooth">
                    "This browser has no Web Bluetooth (Firefox and Safari do not offer it), so you ride the simulated bike. Use Chrome or Edge to connect a trainer, power meter or heart-rate strap."
                </p>
            </section>
        }
        .into_any();
    }
    Effect::new(move |_| {
        let percent = resistance.get();
        devices.trainer.with_value(|t| t.set_resistance(percent));
    });
    let power = move || {
        let m = devices.measure(js_sys::Date::now());
        devices.reading.track();
        m.power.map(|w| format!("{w:.0} W"))
    };
    let pulse = move || {
        devices.pulse.track();
        devices.reading.track();
        devices.measure(js_sys::Date::now()).heart_rate.map(|b| format!("{b:.0} bpm"))
    };
    view! {
        <section class="panel devices" aria-label="Devices">
            <div class="device-row">
                <button type="button" class="button" on:click=move |_| devices.connect(Kind::Bike)>"Connect a bike"</button>
                <span class="small" role="status" data-testid="bike-status">{move || describe(&devices.bike.get())}</span>
                <span class="num" data-testid="device-power">{power}</span>
            </div>
            <div class="device-row">
                <button type="button" class="button" on:click=move |_| devices.connect(Kind::HeartRate)>"Connect heart rate"</button>
                <span class="small" role="status" data-testid="heart-status">{move || describe(&devices.heart.get())}</span>
                <span class="num" data-testid="device-heart-rate">{pulse}</span>
            </div>
            <p class="small muted" data-testid="trainer-answer">{move || devices.answer.get()}</p>
        </section>
    }
    .into_any()
}
