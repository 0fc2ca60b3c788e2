//! The app's components, one file each.

mod app;
mod avatar;
mod bike;
mod board;
mod chart;
mod countdown;
mod devices;
mod finish;
mod message_log;
mod racer_link;
mod racer_marks;
mod racer_menu;
mod racer_page;
mod racer_search;
mod records;
mod ride;
mod setup;
mod your_racer;

pub use app::App;
