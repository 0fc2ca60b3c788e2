//! Web Bluetooth: connect a bike (a smart trainer's Fitness Machine Service, or a power meter's
//! Cycling Power Service) or a heart-rate strap, turn each notification into a [`Reading`] with
//! the shared parsers (`alleycat_domain::ble`), and reconnect by itself, with backoff, when the
//! device drops.
//!
//! The browser API is reached through `js_sys::Reflect` rather than web-sys's bindings, which
//! are behind `--cfg=web_sys_unstable_apis` for Web Bluetooth.

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    time::Duration,
};

use alleycat_domain::{
    ble::{
        self, CadenceMeter, ControlRequest, CyclingPowerMeasurement, HeartRateMeasurement,
        IndoorBikeData, ResistanceRange,
    },
    Source,
};
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::logic::backoff::Backoff;

/// What to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A trainer or a power meter.
    Bike,
    /// A heart-rate strap.
    HeartRate,
}

/// Where a device stands, for the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Not connected.
    Idle,
    /// The browser's chooser is open, or the link is being set up.
    Connecting,
    /// Notifications flow from the named device.
    Connected(String),
    /// The device dropped; the next attempt comes in `in_ms`.
    Reconnecting {
        /// Failed attempts so far.
        attempt: u32,
        /// Milliseconds to the next attempt.
        in_ms: u64,
    },
    /// Connecting failed (or the racer closed the chooser).
    Failed(String),
}

/// One notification's worth of measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    /// The power source that sent it, when it measures power.
    pub source: Option<Source>,
    /// Power, watts.
    pub power: Option<f64>,
    /// Cadence, rpm.
    pub cadence: Option<f64>,
    /// Heart rate, bpm.
    pub heart_rate: Option<f64>,
}

/// Whether this browser has Web Bluetooth (Chromium-based browsers do; Firefox and Safari not).
pub fn available() -> bool {
    navigator_bluetooth().is_some_and(|b| !b.is_undefined() && !b.is_null())
}

fn navigator_bluetooth() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    Reflect::get(&navigator, &"bluetooth".into()).ok()
}

/// Calls `target.name(args…)`.
fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let method: Function = Reflect::get(target, &name.into())?.dyn_into()?;
    method.apply(target, &args.iter().collect::<js_sys::Array>())
}

/// Calls `target.name(args…)` and awaits the promise it returns.
async fn call_async(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let promise: Promise = call(target, name, args)?.dyn_into()?;
    JsFuture::from(promise).await
}

fn message(error: JsValue) -> String {
    Reflect::get(&error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the device did not answer".into())
}

/// The bytes of a `characteristicvaluechanged` event (its target's `value`, a DataView).
fn event_bytes(event: &JsValue) -> Option<Vec<u8>> {
    let target = Reflect::get(event, &"target".into()).ok()?;
    let view: js_sys::DataView = Reflect::get(&target, &"value".into()).ok()?.dyn_into().ok()?;
    Some(view_bytes(&view))
}

/// The bytes a characteristic's value (a DataView) covers.
fn view_bytes(view: &js_sys::DataView) -> Vec<u8> {
    Uint8Array::new_with_byte_offset_and_length(
        &view.buffer(),
        view.byte_offset() as u32,
        view.byte_length() as u32,
    )
    .to_vec()
}

/// Callbacks the app gives a connection.
#[derive(Clone)]
pub struct Handlers {
    /// Each reading.
    pub reading: Rc<dyn Fn(Reading)>,
    /// Each change of status.
    pub status: Rc<dyn Fn(Status)>,
    /// What the trainer's control point answered, in words.
    pub control: Rc<dyn Fn(String)>,
}

/// A connected bike's control point, to drive its resistance, and the resistance levels it
/// supports.
#[derive(Clone, Default)]
pub struct Trainer {
    control_point: Rc<RefCell<Option<JsValue>>>,
    /// From its Supported Resistance Level Range, or [`ResistanceRange::DEFAULT`].
    range: Rc<Cell<ResistanceRange>>,
}

impl Trainer {
    /// Asks the trainer for `percent` (0-100) of its resistance range. Does nothing without a
    /// control point.
    pub fn set_resistance(&self, percent: f64) {
        let Some(point) = self.control_point.borrow().clone() else { return };
        write(point, self.range.get().request_for(percent));
    }
}

fn write(point: JsValue, request: ControlRequest) {
    let bytes = Uint8Array::from(request.encode().as_slice());
    wasm_bindgen_futures::spawn_local(async move {
        // The answer comes as an indication (see `subscribe_control`); a failed write is
        // reported there or not at all, and the ride goes on.
        let _ = call_async(&point, "writeValue", &[bytes.into()]).await;
    });
}

/// Opens the browser's chooser for `kind`, connects, subscribes and keeps the device connected
/// (reconnecting with backoff after a drop) until the page goes.
pub async fn connect(kind: Kind, handlers: Handlers, trainer: Trainer) {
    let Some(bluetooth) = navigator_bluetooth().filter(|b| !b.is_undefined()) else {
        (handlers.status)(Status::Failed("this browser has no Web Bluetooth".into()));
        return;
    };
    (handlers.status)(Status::Connecting);
    let services: &[u16] = match kind {
        Kind::Bike => &[ble::FITNESS_MACHINE_SERVICE, ble::CYCLING_POWER_SERVICE],
        Kind::HeartRate => &[ble::HEART_RATE_SERVICE],
    };
    let options = js_sys::Object::new();
    let filters = js_sys::Array::new();
    for &service in services {
        let filter = js_sys::Object::new();
        let list = js_sys::Array::of1(&JsValue::from(service));
        let _ = Reflect::set(&filter, &"services".into(), &list);
        filters.push(&filter);
    }
    let _ = Reflect::set(&options, &"filters".into(), &filters);
    let device = match call_async(&bluetooth, "requestDevice", &[options.into()]).await {
        Ok(device) => device,
        Err(e) => return (handlers.status)(Status::Failed(message(e))),
    };
    let name = Reflect::get(&device, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "device".into());
    // Reconnect after every drop, forever (the page owns the device): the closure lives as
    // long as the device does.
    let backoff = Rc::new(RefCell::new(Backoff::default()));
    {
        let (dropped, handlers, trainer, name, backoff) =
            (device.clone(), handlers.clone(), trainer.clone(), name.clone(), backoff.clone());
        let on_drop = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let (device, handlers, trainer, name, backoff) =
                (dropped.clone(), handlers.clone(), trainer.clone(), name.clone(), backoff.clone());
            wasm_bindgen_futures::spawn_local(async move {
                trainer.control_point.borrow_mut().take();
                loop {
                    let in_ms = backoff.borrow_mut().next_delay_ms(js_sys::Math::random()) as u64;
                    let attempt = backoff.borrow().attempt();
                    (handlers.status)(Status::Reconnecting { attempt, in_ms });
                    gloo_timers::future::sleep(Duration::from_millis(in_ms)).await;
                    if open(kind, &device, &handlers, &trainer).await.is_ok() {
                        backoff.borrow_mut().reset();
                        (handlers.status)(Status::Connected(name.clone()));
                        return;
                    }
                }
            });
        });
        let _ = call(
            &device,
            "addEventListener",
            &["gattserverdisconnected".into(), on_drop.as_ref().clone()],
        );
        on_drop.forget();
    }
    match open(kind, &device, &handlers, &trainer).await {
        Ok(()) => (handlers.status)(Status::Connected(name)),
        Err(e) => (handlers.status)(Status::Failed(message(e))),
    }
}

/// Connects the GATT server and subscribes to what `kind` reads.
async fn open(
    kind: Kind,
    device: &JsValue,
    handlers: &Handlers,
    trainer: &Trainer,
) -> Result<(), JsValue> {
    let gatt = Reflect::get(device, &"gatt".into())?;
    let server = call_async(&gatt, "connect", &[]).await?;
    match kind {
        Kind::HeartRate => {
            let reading = handlers.reading.clone();
            subscribe(&server, ble::HEART_RATE_SERVICE, ble::HEART_RATE_MEASUREMENT, move |b| {
                if let Ok(m) = HeartRateMeasurement::parse(b) {
                    reading(Reading { heart_rate: Some(f64::from(m.bpm)), ..Reading::default() });
                }
            })
            .await
        }
        Kind::Bike => {
            let reading = handlers.reading.clone();
            let trainer_data =
                subscribe(&server, ble::FITNESS_MACHINE_SERVICE, ble::INDOOR_BIKE_DATA, move |b| {
                    if let Ok(d) = IndoorBikeData::parse(b) {
                        reading(Reading {
                            source: Some(Source::Trainer),
                            power: d.power_w.map(|w| f64::from(w.max(0))),
                            cadence: d.cadence_rpm,
                            heart_rate: d.heart_rate_bpm.filter(|&h| h > 0).map(f64::from),
                        });
                    }
                })
                .await;
            if trainer_data.is_ok() {
                subscribe_control(&server, handlers, trainer).await;
                return Ok(());
            }
            let reading = handlers.reading.clone();
            let meter = RefCell::new(CadenceMeter::default());
            subscribe(
                &server,
                ble::CYCLING_POWER_SERVICE,
                ble::CYCLING_POWER_MEASUREMENT,
                move |b| {
                    if let Ok(m) = CyclingPowerMeasurement::parse(b) {
                        let now = js_sys::Date::now() as u64;
                        let cadence = m.crank.map(|c| meter.borrow_mut().update(Some(c), now));
                        reading(Reading {
                            source: Some(Source::PowerMeter),
                            power: Some(f64::from(m.power_w.max(0))),
                            cadence,
                            heart_rate: None,
                        });
                    }
                },
            )
            .await
        }
    }
}

/// Starts notifications of `characteristic` in `service` and hands each value's bytes to
/// `on_bytes`.
async fn subscribe(
    server: &JsValue,
    service: u16,
    characteristic: u16,
    on_bytes: impl Fn(&[u8]) + 'static,
) -> Result<(), JsValue> {
    let service = call_async(server, "getPrimaryService", &[service.into()]).await?;
    let characteristic =
        call_async(&service, "getCharacteristic", &[characteristic.into()]).await?;
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(bytes) = event_bytes(&event) {
            on_bytes(&bytes);
        }
    });
    call(
        &characteristic,
        "addEventListener",
        &["characteristicvaluechanged".into(), listener.as_ref().clone()],
    )?;
    // The characteristic lives as long as the connection; so does its listener.
    listener.forget();
    call_async(&characteristic, "startNotifications", &[]).await?;
    Ok(())
}

/// The trainer's Supported Resistance Level Range, or the default when it offers none (or
/// sends a value that does not parse).
async fn resistance_range(service: &JsValue) -> ResistanceRange {
    let read = async {
        let range = call_async(
            service,
            "getCharacteristic",
            &[ble::SUPPORTED_RESISTANCE_LEVEL_RANGE.into()],
        )
        .await?;
        let view: js_sys::DataView = call_async(&range, "readValue", &[]).await?.dyn_into()?;
        Ok::<_, JsValue>(view_bytes(&view))
    };
    read.await.ok().and_then(|bytes| ResistanceRange::parse(&bytes).ok()).unwrap_or_default()
}

/// Finds the trainer's control point, if it has one, reports its answers, and requests control.
async fn subscribe_control(server: &JsValue, handlers: &Handlers, trainer: &Trainer) {
    let Ok(service) =
        call_async(server, "getPrimaryService", &[ble::FITNESS_MACHINE_SERVICE.into()]).await
    else {
        return;
    };
    let Ok(point) =
        call_async(&service, "getCharacteristic", &[ble::FITNESS_MACHINE_CONTROL_POINT.into()])
            .await
    else {
        return (handlers.control)("this trainer takes no commands".into());
    };
    trainer.range.set(resistance_range(&service).await);
    let control = handlers.control.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let Some(bytes) = event_bytes(&event) else { return };
        control(match ble::ControlResponse::parse(&bytes) {
            Ok(r) => format!("trainer: {}", r.result.describe()),
            Err(e) => format!("trainer: {e}"),
        });
    });
    let _ = call(
        &point,
        "addEventListener",
        &["characteristicvaluechanged".into(), listener.as_ref().clone()],
    );
    listener.forget();
    if call_async(&point, "startNotifications", &[]).await.is_err() {
        return;
    }
    *trainer.control_point.borrow_mut() = Some(point.clone());
    write(point, ControlRequest::RequestControl);
}
